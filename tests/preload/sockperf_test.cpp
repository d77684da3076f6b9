// An unmodified Debian sockperf server under lrp-run answers sockperf's
// ping-pong, under-load and throughput clients from the peer namespace,
// with each of its I/O multiplexers, and the lrp engine (not the kernel)
// carried the datagrams: the XDP program redirected them and the server's
// lrp socket delivered them.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <ostream>
#include <sstream>
#include <string>
#include <thread>

#include "tests/preload/child_process.h"
#include "tests/support/netns.h"
#include "tests/support/privileges.h"

namespace lrp::test {
namespace {

constexpr const char* kPort = "11111";
constexpr uint16_t kMetricsPort = 9461;

struct Multiplexer {
  const char* flag;  // sockperf -F
  const char* mode;
  const char* threading;
};

// Readable test names in ctest.
void PrintTo(const Multiplexer& m, std::ostream* os) {
  *os << "-F " << m.flag << " --mode " << m.mode << " --threading " << m.threading;
}

long long field(const std::string& text, const std::string& name) {
  return number_after(text, name + "=");
}

std::string scrape(const VethBench& bench) {
  return http_get(bench.server_ns, kMetricsPort, "/metrics");
}

// The three sockperf clients, at once: a server answers several clients.
struct ClientRuns {
  std::string ping, load, tput;
};

ClientRuns run_clients(const VethBench& bench) {
  auto argv = [&](const std::string& test, std::vector<std::string> extra) {
    std::vector<std::string> a = {"ip",       "netns", "exec", bench.client_ns,
                                  "sockperf", test,    "-i",   VethBench::kServer4,
                                  "-p",       kPort,   "-t",   "1"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  ChildProcess ping(argv("ping-pong", {}), temp_path("ping"));
  ChildProcess load(argv("under-load", {"--mps", "5000"}), temp_path("load"));
  ChildProcess tput(argv("throughput", {"--mps", "10000"}), temp_path("tput"));
  EXPECT_EQ(ping.wait(20000), 0);
  EXPECT_EQ(load.wait(20000), 0);
  EXPECT_EQ(tput.wait(20000), 0);
  return {ping.output(), load.output(), tput.output()};
}

class SockperfUnderLrp : public ::testing::TestWithParam<Multiplexer> {};

TEST_P(SockperfUnderLrp, AnswersEveryClientThroughLrp) {
  LRP_REQUIRE_PRIVILEGES();
  const Multiplexer mux = GetParam();
  VethBench bench("spf");
  ASSERT_TRUE(bench.ok);
  const std::string conn = temp_path("conn");
  std::ofstream(conn) << "U:" << VethBench::kServer4 << ":" << kPort << "\n";
  ChildProcess server({"ip",
                       "netns",
                       "exec",
                       bench.server_ns,
                       bin_dir() + "/lrp-run",
                       "--in-process",
                       "--iface",
                       bench.server_if,
                       "--mode",
                       mux.mode,
                       "--threading",
                       mux.threading,
                       "--metrics",
                       "127.0.0.1:" + std::to_string(kMetricsPort),
                       "--",
                       "sockperf",
                       "server",
                       "-f",
                       conn,
                       "-F",
                       mux.flag},
                      temp_path("server"));
  ASSERT_FALSE(scrape_lrp_metrics(bench.server_ns, kMetricsPort, 5000).empty()) << server.output();

  const ClientRuns runs = run_clients(bench);
  EXPECT_EQ(runs.ping.find("No messages were received"), std::string::npos) << runs.ping;
  const long long ping_sent = field(runs.ping, "SentMessages");
  // Every ping is answered. (On a starved machine sockperf may still print
  // no latency statistics: it drops observations it judges out of its
  // measuring window, which says nothing about the server.)
  EXPECT_GT(field(runs.ping, "ReceivedMessages"), 100) << runs.ping;
  EXPECT_GE(field(runs.ping, "ReceivedMessages"), ping_sent * 9 / 10) << runs.ping;

  const long long load_sent = field(runs.load, "SentMessages");
  EXPECT_GT(field(runs.load, "ReceivedMessages"), 0) << runs.load;

  const long long tput_sent = number_after(runs.tput, "Total of ");
  EXPECT_GT(tput_sent, 1000) << runs.tput;

  // The datagrams reached the server through lrp: redirected by XDP into
  // the server's AF_XDP socket and delivered by the lrp engine; the replies
  // left through lrp too. On a busy machine some never reach XDP (the veth
  // drops them when its peer's ring is full) and a server that falls behind
  // is shed at XDP or drops at its ring's tail: every datagram is accounted
  // for by one of these counters, and none is lost unseen.
  const std::string after = scrape(bench);
  const double sent = static_cast<double>(ping_sent + load_sent + tput_sent);
  const double veth_dropped =
      static_cast<double>(link_statistic(bench.client_ns, bench.client_if, "tx_dropped") +
                          link_statistic(bench.server_ns, bench.server_if, "rx_dropped"));
  const double seen = metric_sum(after, "lrp_xdp_seen_total");
  const double redirected = metric_sum(after, "lrp_xdp_redirected_total");
  const double shed = metric_sum(after, "lrp_xdp_shed_total");
  std::ostringstream ledger;
  ledger << "sent " << sent << ", dropped by the veth " << veth_dropped << ", seen by XDP " << seen
         << ", redirected " << redirected << ", shed " << shed << "\n"
         << after;
  EXPECT_GE(seen + veth_dropped, 0.9 * sent) << ledger.str();
  EXPECT_GE(redirected + shed, 0.9 * seen) << ledger.str();
  // lrp_drops_total counts the shed ones too, which were never redirected.
  EXPECT_GE(metric_sum(after, "lrp_datagrams_delivered_total") +
                metric_sum(after, "lrp_drops_total") - shed,
            0.9 * redirected)
      << ledger.str();
  EXPECT_GE(metric_sum(after, "lrp_datagrams_delivered_total"), 0.5 * sent) << after;
  EXPECT_GT(metric_sum(after, "lrp_datagrams_sent_total"), 100) << after;

  // sockperf ends on SIGINT, which reaches it inside an lrp receive call.
  EXPECT_EQ(server.stop(SIGINT), 0) << server.output();
  unlink(conn.c_str());
}

INSTANTIATE_TEST_SUITE_P(
    Multiplexers, SockperfUnderLrp,
    ::testing::Values(Multiplexer{"s", "adaptive", "rtc"}, Multiplexer{"p", "interrupt", "rtc"},
                      Multiplexer{"e", "adaptive", "dedicated"}, Multiplexer{"r", "poll", "rtc"}),
    [](const auto& info) {
      return std::string(info.param.flag) + "_" + info.param.mode + "_" + info.param.threading;
    });

}  // namespace
}  // namespace lrp::test
