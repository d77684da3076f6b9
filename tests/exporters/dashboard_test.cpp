// The dashboard's queries against what the exporter exports: every metric
// name is an exported family, every label is one that family has, every
// expression parses (promtool), and the files survive being served as
// Prometheus console templates.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "exporters/family_specs.h"
#include "tests/exporters/promql_names.h"

namespace lrp::exporters {
namespace {

const std::string kDashboardDir = LRP_SOURCE_DIR "/exporters/dashboard";

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

struct Query {
  std::string panel;
  std::string expr;
  std::string legend;
};

std::vector<Query> dashboard_queries(nlohmann::json* dashboard) {
  *dashboard = nlohmann::json::parse(read_file(kDashboardDir + "/lrp-grafana.json"));
  std::vector<Query> out;
  for (const auto& panel : (*dashboard)["panels"])
    for (const auto& target : panel["targets"])
      out.push_back({panel["title"], target["expr"], target.value("legendFormat", "")});
  return out;
}

std::set<std::string> labels_of(const FamilySpec& spec, bool bucket) {
  std::set<std::string> labels = {"interface", "job", "instance"};
  if (spec.scope != Scope::Interface) labels.insert("queue");
  if (spec.scope == Scope::App || spec.scope == Scope::Socket || spec.scope == Scope::Mixed)
    labels.insert("app");
  if (spec.scope == Scope::Socket || spec.scope == Scope::Mixed) {
    labels.insert("socket");
    labels.insert("slot");
  }
  std::stringstream extra{std::string(spec.extra_labels)};
  for (std::string l; std::getline(extra, l, ',');) labels.insert(l);
  if (bucket) labels.insert("le");
  return labels;
}

TEST(Dashboard, EveryExpressionNamesExportedFamiliesAndTheirLabels) {
  nlohmann::json dashboard;
  const auto queries = dashboard_queries(&dashboard);
  ASSERT_FALSE(queries.empty());
  for (const Query& q : queries) {
    SCOPED_TRACE(q.panel + ": " + q.expr);
    const test::PromqlNames names = test::promql_names(q.expr);
    ASSERT_FALSE(names.metrics.empty()) << "no lrp metric in the expression";
    std::set<std::string> allowed;
    for (const std::string& metric : names.metrics) {
      const test::FamilyRef ref = test::family_of(metric);
      ASSERT_NE(ref.spec, nullptr) << metric << " is not an exported family";
      const auto labels = labels_of(*ref.spec, ref.bucket);
      allowed.insert(labels.begin(), labels.end());
    }
    for (const std::string& label : names.labels)
      EXPECT_TRUE(allowed.count(label)) << "label " << label << " is not on those families";
    for (const std::string& label : test::legend_labels(q.legend))
      EXPECT_TRUE(names.grouping.empty() || names.grouping.count(label))
          << "legend uses " << label << ", which the aggregation drops";
  }
}

TEST(Dashboard, HasTheRequiredPanels) {
  nlohmann::json dashboard;
  const auto queries = dashboard_queries(&dashboard);
  std::set<std::string> used;
  for (const Query& q : queries)
    for (const std::string& m : test::promql_names(q.expr).metrics) used.insert(m);
  // Per-application delivered rate, drops by reason, charged CPU, engine mode.
  for (const char* family : {"lrp_datagrams_delivered_total", "lrp_drops_total",
                             "lrp_protocol_cpu_seconds_total", "lrp_engine_mode"})
    EXPECT_TRUE(used.count(family)) << "no panel shows " << family;
}

TEST(Dashboard, ExpressionsParseWithPromtool) {
  nlohmann::json dashboard;
  const auto queries = dashboard_queries(&dashboard);
  // A rules file with one recording rule per expression: promtool parses each.
  std::string rules = "groups:\n  - name: lrp_dashboard\n    rules:\n";
  for (size_t i = 0; i < queries.size(); ++i) {
    const std::string expr = test::expand_grafana_variables(queries[i].expr, "10s", ".*");
    rules += "      - record: lrp_dashboard_query_" + std::to_string(i) +
             "\n        expr: " + nlohmann::json(expr).dump() + "\n";
  }
  char path[] = "/tmp/lrp-dashboard-rules-XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  std::ofstream(path) << rules;
  FILE* p = popen(("promtool check rules " + std::string(path) + " 2>&1").c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string output;
  char buf[512];
  while (fgets(buf, sizeof(buf), p) != nullptr) output += buf;
  const int status = pclose(p);
  std::remove(path);
  EXPECT_EQ(status, 0) << "promtool (Debian package prometheus):\n" << output << "\n" << rules;
}

TEST(Dashboard, FilesAreSafeAsConsoleTemplates) {
  // Prometheus parses every file of its console directory as a Go template.
  for (const char* file : {"/lrp-grafana.json", "/lrp.html"}) {
    const std::string text = read_file(kDashboardDir + file);
    ASSERT_FALSE(text.empty()) << file;
    EXPECT_EQ(text.find("{{"), std::string::npos)
        << file << ": write double braces as \\u007b\\u007b (JSON) or build them in script";
  }
  // The page has no queries of its own: it draws the panels of the JSON.
  const std::string page = read_file(kDashboardDir + "/lrp.html");
  EXPECT_NE(page.find("fetch(\"lrp-grafana.json\")"), std::string::npos);
  EXPECT_EQ(page.find("lrp_"), std::string::npos);
}

}  // namespace
}  // namespace lrp::exporters
