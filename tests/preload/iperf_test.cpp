// An unmodified iperf3 server under lrp-run receives an iperf3 UDP test over
// IPv4 and IPv6 through lrp, while its TCP control connection stays on the
// kernel: a connected UDP socket, select over TCP and lrp fds, read/write.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <string>
#include <thread>

#include "tests/preload/child_process.h"
#include "tests/support/netns.h"
#include "tests/support/privileges.h"

namespace lrp::test {
namespace {

constexpr uint16_t kMetricsPort = 9462;

class IperfUnderLrp : public ::testing::TestWithParam<int> {};

TEST_P(IperfUnderLrp, ReceivesTheUdpTestThroughLrp) {
  LRP_REQUIRE_PRIVILEGES();
  const bool v6 = GetParam() == AF_INET6;
  VethBench bench(v6 ? "ip6" : "ip4");
  ASSERT_TRUE(bench.ok);
  const std::string server_addr = v6 ? VethBench::kServer6 : VethBench::kServer4;
  ChildProcess server(
      {"ip", "netns", "exec", bench.server_ns, bin_dir() + "/lrp-run", "--in-process", "--iface",
       bench.server_if, "--metrics", "127.0.0.1:" + std::to_string(kMetricsPort), "--", "iperf3",
       "-s", "-B", server_addr, "-p", "5201"},
      temp_path("iperf-server"));
  bool listening = false;
  for (int i = 0; i < 100 && !listening; ++i) {
    std::string ss;
    run_capture({"ip", "netns", "exec", bench.server_ns, "ss", "-tln"}, 5000, &ss);
    listening = ss.find(":5201") != std::string::npos;
    if (!listening) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(listening) << server.output();

  std::string out;
  ASSERT_EQ(run_capture({"ip", "netns", "exec", bench.client_ns, "iperf3", "-u", "-c", server_addr,
                         "-p", "5201", "-t", "1", "-b", "20M", "-l", "1000"},
                        20000, &out),
            0)
      << out << server.output();
  // The receiver line: "... LOST/TOTAL (P%)  receiver".
  const size_t receiver = out.find("receiver");
  ASSERT_NE(receiver, std::string::npos) << out;
  const size_t line = out.rfind('\n', receiver) + 1;
  const size_t paren = out.find(" (", line);
  ASSERT_LT(paren, receiver) << out;
  const size_t token = out.rfind(' ', paren - 1) + 1;
  const std::string counts = out.substr(token, paren - token);
  const size_t slash = counts.find('/');
  ASSERT_NE(slash, std::string::npos) << out;
  const double lost = std::stod(counts.substr(0, slash));
  const double total = std::stod(counts.substr(slash + 1));
  EXPECT_GT(total, 1000) << out;
  EXPECT_LE(lost, 0.01 * total) << out;

  // Empty when lrp never served the test socket: the server's output says why.
  const std::string scrape = scrape_lrp_metrics(bench.server_ns, kMetricsPort, 2000);
  EXPECT_GE(metric_sum(scrape, "lrp_xdp_redirected_total"), 0.95 * total)
      << scrape << server.output();
  server.stop();
}

INSTANTIATE_TEST_SUITE_P(Families, IperfUnderLrp, ::testing::Values(AF_INET, AF_INET6),
                         [](const auto& info) {
                           return std::string(info.param == AF_INET ? "IPv4" : "IPv6");
                         });

}  // namespace
}  // namespace lrp::test
