// Snapshots to metric families and the text format, without any device:
// names, types, labels, cumulative buckets, and Prometheus's own linter.
#include "exporters/families.h"

#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>
#include <unistd.h>

#include <cctype>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>

#include "exporters/family_specs.h"
#include "exporters/histogram_snapshot.h"
#include "tests/exporters/exposition.h"

namespace lrp::exporters {
namespace {

using test::Exposition;

HistogramSnapshot made_up_histogram(uint64_t scale) {
  HistogramSnapshot h;
  h.counts = {1 * scale, 2 * scale, 0, 4 * scale};
  h.upper_bounds = {1, 2, 4, std::numeric_limits<double>::infinity()};
  h.sum = 40.0 * static_cast<double>(scale);
  return h;
}

SocketSnapshot made_up_socket(const std::string& app, const std::string& label, uint32_t slot) {
  SocketSnapshot s;
  s.app = app;
  s.socket = label;
  s.slot = slot;
  s.delivered = 1000 + slot;
  s.delivered_bytes = 64000;
  s.invalid = {{"bad_udp_checksum", 3}, {"truncated", 0}};
  s.sent = 7;
  s.kernel = KernelSocketStats{.rx_dropped = 5, .rx_ring_full = 11, .rx_fill_ring_empty_descs = 2};
  s.xdp = std::array<uint64_t, LRP_SLOT_COUNTER_MAX>{1011, 13, 1, 0};
  return s;
}

// Every optional part present, so every family appears.
EngineSnapshot made_up_engine(const std::string& interface, uint32_t queue) {
  EngineSnapshot e;
  e.interface = interface;
  e.queue = queue;
  e.frames = {.free = 100, .fill = 2000, .rx = 30, .held = 10, .tx = 8, .violations = 0};
  e.fill_ring_empty_descs = 2;
  e.xdp_global = std::array<uint64_t, LRP_G_COUNTER_MAX>{};
  (*e.xdp_global)[LRP_G_SEEN] = 5000;
  (*e.xdp_global)[LRP_G_PASS_NOT_IP] = 4;
  (*e.xdp_global)[LRP_G_REDIRECTED] = 4900;
  SchedulerSnapshot s;
  s.mode = "adaptive";
  s.threading = "dedicated";
  s.polling = true;
  s.passes = 50;
  s.switches_to_poll = 3;
  s.switches_to_interrupt = 2;
  s.deferrals = 17;
  s.yields = 19;
  s.answer_spins = 23;
  s.answer_misses = 6;
  s.engine_cpu_ns = 2'500'000'000;
  for (const char* name : {"echo", "flood"}) {
    AppSnapshot a;
    a.name = name;
    a.weight = 2;
    a.charged_ns = 1'500'000'000;
    a.queue_full_drops = 9;
    a.shed = true;
    a.batch_size = made_up_histogram(1);
    a.queue_depth = made_up_histogram(2);
    s.apps.push_back(a);
  }
  e.scheduler = s;
  e.sockets = {made_up_socket("echo", "7/ipv4", 0), made_up_socket("echo", "7/ipv6", 1),
               made_up_socket("flood", "198.18.0.1:9", 2)};
  e.read_errors = 1;
  return e;
}

Exposition serialize_and_parse(const std::vector<EngineSnapshot>& engines, std::string* text) {
  *text = prometheus::TextSerializer().Serialize(to_families(engines));
  std::string error;
  auto parsed = test::parse_exposition(*text, &error);
  EXPECT_TRUE(parsed.has_value()) << error;
  return parsed.value_or(Exposition{});
}

// Prometheus's metric name syntax: [a-zA-Z_:][a-zA-Z0-9_:]*
bool valid_metric_name(std::string_view name) {
  auto word = [](char c) {
    return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == ':';
  };
  if (name.empty() || !word(name[0])) return false;
  for (char c : name)
    if (!word(c) && !std::isdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

TEST(FamilySpecs, NamesAreValidUniqueAndCountersEndInTotal) {
  std::set<std::string_view> names;
  for (const FamilySpec& s : family_specs()) {
    EXPECT_TRUE(valid_metric_name(s.name)) << s.name;
    EXPECT_EQ(s.name.substr(0, 4), "lrp_") << s.name;
    EXPECT_TRUE(names.insert(s.name).second) << "duplicate " << s.name;
    const bool total = s.name.ends_with("_total");
    EXPECT_EQ(total, s.type == prometheus::MetricType::Counter) << s.name;
    EXPECT_FALSE(s.help.empty()) << s.name;
  }
}

TEST(Families, EveryFamilyAppearsOnceWithItsType) {
  std::string text;
  const Exposition e = serialize_and_parse({made_up_engine("veth0", 0)}, &text);
  for (const FamilySpec& s : family_specs()) {
    const std::string name(s.name);
    ASSERT_TRUE(e.types.count(name)) << name << " missing from\n" << text;
    const char* type = s.type == prometheus::MetricType::Counter     ? "counter"
                       : s.type == prometheus::MetricType::Gauge     ? "gauge"
                       : s.type == prometheus::MetricType::Histogram ? "histogram"
                                                                     : "?";
    EXPECT_EQ(e.types.at(name), type) << name;
  }
  EXPECT_EQ(e.types.size(), family_specs().size());
}

TEST(Families, SocketSamplesCarryEngineAppAndSocketLabels) {
  std::string text;
  const Exposition e = serialize_and_parse({made_up_engine("veth0", 3)}, &text);
  auto delivered = e.find("lrp_datagrams_delivered_total", {{"socket", "7/ipv6"}});
  ASSERT_EQ(delivered.size(), 1u) << text;
  const std::map<std::string, std::string> want = {
      {"interface", "veth0"}, {"queue", "3"}, {"app", "echo"}, {"socket", "7/ipv6"}, {"slot", "1"}};
  EXPECT_EQ(delivered[0]->labels, want);
  EXPECT_EQ(delivered[0]->value, 1001);
  EXPECT_EQ(e.sum("lrp_datagrams_delivered_total", {{"app", "echo"}}), 2001);
}

TEST(Families, DropsByReasonComeFromTheirOwnCounters) {
  std::string text;
  const Exposition e = serialize_and_parse({made_up_engine("veth0", 0)}, &text);
  const std::map<std::string, std::string> flood = {{"app", "flood"}};
  auto with = [&](const char* reason) {
    auto m = flood;
    m["reason"] = reason;
    return e.sum("lrp_drops_total", m);
  };
  EXPECT_EQ(with("ring_full"), 11);
  EXPECT_EQ(with("fill_empty"), 5);
  EXPECT_EQ(with("shed"), 13);
  EXPECT_EQ(with("invalid"), 3);
  EXPECT_EQ(with("app_queue_full"), 9);
  auto bad = e.find("lrp_drops_total", {{"app", "flood"}, {"detail", "bad_udp_checksum"}});
  ASSERT_EQ(bad.size(), 1u);
  EXPECT_EQ(bad[0]->labels.at("reason"), "invalid");
  // The late drop belongs to the application, not to one of its sockets.
  auto late = e.find("lrp_drops_total", {{"app", "flood"}, {"reason", "app_queue_full"}});
  ASSERT_EQ(late.size(), 1u);
  EXPECT_EQ(late[0]->labels.count("socket"), 0u);
}

TEST(Families, EngineModeCpuAndXdpCounters) {
  std::string text;
  const Exposition e = serialize_and_parse({made_up_engine("veth0", 0)}, &text);
  EXPECT_EQ(e.sum("lrp_engine_mode"), 1);
  EXPECT_EQ(e.sum("lrp_engine_configured_mode", {{"mode", "adaptive"}, {"threading", "dedicated"}}),
            1);
  EXPECT_EQ(e.sum("lrp_engine_mode_switches_total", {{"direction", "to_poll"}}), 3);
  EXPECT_EQ(e.sum("lrp_engine_mode_switches_total", {{"direction", "to_interrupt"}}), 2);
  EXPECT_EQ(e.sum("lrp_engine_deferrals_total"), 17);
  EXPECT_EQ(e.sum("lrp_engine_core_yields_total"), 19);
  EXPECT_EQ(e.sum("lrp_engine_answer_spins_total", {{"outcome", "answered"}}), 17);
  EXPECT_EQ(e.sum("lrp_engine_answer_spins_total", {{"outcome", "missed"}}), 6);
  EXPECT_DOUBLE_EQ(*e.sum("lrp_protocol_cpu_seconds_total", {{"app", "echo"}}), 1.5);
  EXPECT_DOUBLE_EQ(*e.sum("lrp_engine_cpu_seconds_total"), 2.5);
  EXPECT_EQ(e.sum("lrp_frames", {{"place", "fill"}}), 2000);
  EXPECT_EQ(e.sum("lrp_frames"), 2148);
  EXPECT_EQ(e.sum("lrp_xdp_pass_total", {{"reason", "not_ip"}}), 4);
  EXPECT_EQ(e.sum("lrp_xdp_packets_total", {{"slot", "2"}, {"outcome", "redirected"}}), 1011);
  auto seen = e.find("lrp_xdp_seen_total");
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0]->labels, (std::map<std::string, std::string>{{"interface", "veth0"}}));
}

TEST(Families, HistogramBucketsAreCumulativeAndEndInInf) {
  std::string text;
  const Exposition e = serialize_and_parse({made_up_engine("veth0", 0)}, &text);
  auto buckets = e.find("lrp_batch_size_bucket", {{"app", "echo"}});
  ASSERT_EQ(buckets.size(), 4u) << text;
  std::map<std::string, double> by_le;
  for (const auto* b : buckets) by_le[b->labels.at("le")] = b->value;
  EXPECT_EQ(by_le["1"], 1);
  EXPECT_EQ(by_le["2"], 3);
  EXPECT_EQ(by_le["4"], 3);
  EXPECT_EQ(by_le["+Inf"], 7);
  EXPECT_EQ(e.sum("lrp_batch_size_count", {{"app", "echo"}}), 7);
  EXPECT_EQ(e.sum("lrp_batch_size_sum", {{"app", "echo"}}), 40);
  EXPECT_EQ(e.sum("lrp_receive_queue_depth_count", {{"app", "echo"}}), 14);
}

TEST(Families, Pow2HistogramReadsIntoPrometheusBuckets) {
  sched::Pow2Histogram h;
  for (uint64_t v : {0, 1, 2, 3, 4, 5, 64, 100000}) h.record(v);
  const auto out = to_histogram(read_histogram(h));
  ASSERT_EQ(out.bucket.size(), sched::Pow2Histogram::kBuckets);
  EXPECT_EQ(out.bucket[0].upper_bound, 1);
  EXPECT_EQ(out.bucket[0].cumulative_count, 2u);  // 0 and 1
  EXPECT_EQ(out.bucket[1].cumulative_count, 3u);  // <= 2
  EXPECT_EQ(out.bucket[2].cumulative_count, 5u);  // <= 4
  EXPECT_EQ(out.bucket[3].cumulative_count, 6u);  // <= 8
  EXPECT_EQ(out.bucket[6].cumulative_count, 7u);  // <= 64
  EXPECT_TRUE(std::isinf(out.bucket.back().upper_bound));
  EXPECT_EQ(out.bucket.back().cumulative_count, 8u);  // the last bucket takes the rest
  EXPECT_EQ(out.sample_count, 8u);
  EXPECT_EQ(out.sample_sum, 100079);
}

TEST(Families, EnginesShareFamiliesAndTheInterfaceCountsOnce) {
  std::string text;
  const Exposition e =
      serialize_and_parse({made_up_engine("veth0", 0), made_up_engine("veth0", 1)}, &text);
  size_t help_lines = 0;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (line.rfind("# HELP lrp_frames ", 0) == 0) ++help_lines;
  EXPECT_EQ(help_lines, 1u);
  EXPECT_EQ(e.find("lrp_frames", {{"place", "free"}}).size(), 2u);
  EXPECT_EQ(e.find("lrp_xdp_seen_total").size(), 1u);
}

TEST(Families, PerSlotXdpCountersCountOncePerInterface) {
  // A slot spans every queue of its interface: the sum over queues is the
  // slot's own count, on another interface it is another slot.
  std::string text;
  const Exposition e = serialize_and_parse(
      {made_up_engine("veth0", 0), made_up_engine("veth0", 1), made_up_engine("veth1", 0)}, &text);
  EXPECT_EQ(e.sum("lrp_xdp_packets_total",
                  {{"interface", "veth0"}, {"outcome", "redirected"}, {"slot", "0"}}),
            1011)
      << text;
  EXPECT_EQ(e.find("lrp_xdp_packets_total", {{"interface", "veth0"}, {"queue", "1"}}).size(), 0u);
  EXPECT_EQ(e.sum("lrp_drops_total", {{"interface", "veth0"}, {"reason", "shed"}, {"slot", "2"}}),
            13);
  EXPECT_EQ(e.sum("lrp_xdp_packets_total", {{"interface", "veth1"}, {"outcome", "redirected"}}),
            3 * 1011);
  // Everything else stays per queue.
  EXPECT_EQ(e.find("lrp_datagrams_delivered_total", {{"interface", "veth0"}, {"slot", "0"}}).size(),
            2u);
}

TEST(Families, EngineWithoutSchedulerHasNoAppsOrModes) {
  EngineSnapshot e = made_up_engine("veth0", 0);
  e.scheduler.reset();
  for (auto& s : e.sockets) s.app.clear();
  std::string text;
  const Exposition x = serialize_and_parse({e}, &text);
  EXPECT_TRUE(x.find("lrp_engine_mode").empty());
  EXPECT_TRUE(x.find("lrp_protocol_cpu_seconds_total").empty());
  auto delivered = x.find("lrp_datagrams_delivered_total");
  ASSERT_EQ(delivered.size(), 3u);
  EXPECT_EQ(delivered[0]->labels.count("app"), 0u);
}

TEST(Families, PromtoolFindsNothingToLint) {
  std::string text;
  serialize_and_parse({made_up_engine("veth0", 0)}, &text);
  char path[] = "/tmp/lrp-exposition-XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  std::ofstream(path) << text;
  const std::string command = std::string("promtool check metrics < ") + path + " 2>&1";
  FILE* p = popen(command.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string output;
  char buf[512];
  while (fgets(buf, sizeof(buf), p) != nullptr) output += buf;
  const int status = pclose(p);
  std::remove(path);
  EXPECT_EQ(status, 0) << "promtool (Debian package prometheus) says:\n" << output;
}

TEST(Families, ReadmeDocumentsEveryFamily) {
  std::ifstream in(LRP_SOURCE_DIR "/exporters/README.md");
  ASSERT_TRUE(in.good());
  std::stringstream readme;
  readme << in.rdbuf();
  for (const FamilySpec& s : family_specs())
    EXPECT_NE(readme.str().find("`" + std::string(s.name)), std::string::npos)
        << s.name << " is not in exporters/README.md";
}

}  // namespace
}  // namespace lrp::exporters
