// lrp-lab end to end: every experiment's quick run completes, writes a
// results table with every configuration in both placements, a plot and a
// summary, never reports more delivered than offered, and leaves no
// namespace behind, also when it is stopped with SIGTERM halfway.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <ostream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/lab/lab_output.h"
#include "tests/support/netns.h"
#include "tests/support/privileges.h"

namespace lrp::test {
namespace {

const std::vector<std::string> kStandard = {"kernel", "lrp-eager", "lrp-interrupt", "lrp-poll",
                                            "lrp-adaptive"};
const std::vector<std::string> kThreading = {
    "kernel",       "lrp-eager",          "lrp-interrupt-rtc", "lrp-interrupt-dedicated",
    "lrp-poll-rtc", "lrp-poll-dedicated", "lrp-adaptive-rtc",  "lrp-adaptive-dedicated"};
const std::vector<std::string> kLivelock = {"kernel",        "lrp-eager", "lrp-screend",
                                            "lrp-interrupt", "lrp-poll",  "lrp-adaptive"};
const std::vector<std::string> kPlacements = {"native", "soft"};

struct Experiment {
  std::string name;
  std::vector<std::string> configs;
  std::string latency_column;  // must have a value in some row of every configuration ("": none)
  std::string rate_column;     // must be above zero in some row of every configuration
  // Leading summary columns before placement and config, one set of rows
  // each (crosstalk's scenarios); empty: none.
  std::vector<std::string> groups = {};
};

void PrintTo(const Experiment& e, std::ostream* os) {
  *os << e.name;
}

pid_t start_lab(const std::string& experiment, const std::string& out) {
  pid_t pid = fork();
  if (pid == 0) {
    const std::string bin = std::string(LRP_BIN_DIR) + "/lrp-lab";
    execl(bin.c_str(), bin.c_str(), experiment.c_str(), "--quick", "--out", out.c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  return pid;
}

// Exit status of the child, or -1 if it had to be killed after `seconds`.
int wait_for(pid_t pid, int seconds) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  int status = 0;
  while (std::chrono::steady_clock::now() < end) {
    if (waitpid(pid, &status, WNOHANG) == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
  return -1;
}

bool namespaces_left(pid_t pid) {
  return run("ip netns list | grep -q '^lrplab" + std::to_string(pid) + "[sc]'") == 0;
}

double number(const CsvRow& row, const std::string& column) {
  auto it = row.find(column);
  if (it == row.end() || it->second.empty()) return -1;
  return std::atof(it->second.c_str());
}

class LabQuick : public ::testing::TestWithParam<Experiment> {};

TEST_P(LabQuick, WritesCompleteAndSaneResults) {
  LRP_REQUIRE_PRIVILEGES();
  const Experiment& e = GetParam();
  const std::string out = std::string(LRP_LAB_OUT_DIR) + "/" + e.name;
  run("rm -rf '" + out + "'");
  const pid_t pid = start_lab(e.name, out);
  ASSERT_EQ(wait_for(pid, 900), 0)
      << "lrp-lab " << e.name << " --quick failed; see " << out << "/lab.log";
  EXPECT_FALSE(namespaces_left(pid));

  std::vector<CsvRow> rows;
  std::string why;
  ASSERT_TRUE(read_csv(out + "/results.csv", &rows, &why)) << why;
  ASSERT_FALSE(rows.empty());
  std::set<std::string> seen;
  std::set<std::string> with_latency, with_rate;
  for (const CsvRow& row : rows) {
    const std::string key = row.at("placement") + "/" + row.at("config");
    seen.insert(key);
    const double offered = number(row, "offered"), delivered = number(row, "delivered");
    ASSERT_GE(offered, 0) << key;
    ASSERT_GE(delivered, 0) << key;
    EXPECT_LE(delivered, offered) << key << " step delivered more than was offered";
    EXPECT_LE(number(row, "server_cpu_pct"), 110) << key;
    if (e.latency_column.empty() || number(row, e.latency_column) > 0) with_latency.insert(key);
    if (number(row, e.rate_column) > 0) with_rate.insert(key);
  }
  const std::string summary = read_text(out + "/summary.md");
  for (const std::string& placement : kPlacements) {
    for (const std::string& config : e.configs) {
      const std::string key = placement + "/" + config;
      EXPECT_TRUE(seen.count(key)) << key << " missing from results.csv";
      EXPECT_TRUE(with_latency.count(key)) << key << " has no " << e.latency_column;
      EXPECT_TRUE(with_rate.count(key)) << key << " has no " << e.rate_column;
      const std::vector<std::string> groups =
          e.groups.empty() ? std::vector<std::string>{""} : e.groups;
      for (const std::string& group : groups) {
        const std::string lead = group.empty() ? "" : "| " + group + " ";
        EXPECT_NE(summary.find(lead + "| " + placement + " | " + config + " |"), std::string::npos)
            << group << " " << key << " missing from summary.md";
      }
    }
  }
  EXPECT_TRUE(is_png(out + "/" + e.name + ".png", &why)) << why;
}

INSTANTIATE_TEST_SUITE_P(
    Experiments, LabQuick,
    ::testing::Values(
        Experiment{"livelock", kLivelock, "probe_p99_us", "delivered_pps"},
        Experiment{
            "crosstalk", kStandard, "probe_p99_us", "delivered_pps", {"served", "slow", "unread"}},
        Experiment{"isolation", {"lrp", "kernel"}, "", "delivered_pps"},
        Experiment{"forwarding", kStandard, "jitter_avg_us", "relayed_pps"},
        Experiment{"rtc-vs-dedicated", kThreading, "probe_p99_us", "delivered_pps"}),
    [](const auto& info) {
      std::string n = info.param.name;
      for (char& c : n)
        if (c == '-') c = '_';
      return n;
    });

TEST(LabInterrupted, SigtermStopsEverythingAndRemovesTheNamespaces) {
  LRP_REQUIRE_PRIVILEGES();
  const std::string out = std::string(LRP_LAB_OUT_DIR) + "/interrupted";
  const pid_t pid = start_lab("livelock", out);
  std::this_thread::sleep_for(std::chrono::seconds(6));
  ASSERT_TRUE(namespaces_left(pid)) << "lrp-lab had not started its bench after 6 s";
  kill(pid, SIGTERM);
  EXPECT_EQ(wait_for(pid, 30), 130);
  EXPECT_FALSE(namespaces_left(pid));
  const std::string id = std::to_string(pid);
  EXPECT_NE(run("pgrep -f 'll[s]" + id + "|ll[c]" + id + "' >/dev/null"), 0)
      << "a process of the interrupted run is still running";
}

}  // namespace
}  // namespace lrp::test
