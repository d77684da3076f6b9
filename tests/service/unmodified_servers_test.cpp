// Three unmodified servers under lrp-run, attached to one lrpd on one
// interface at the same time: Debian's sockperf server and iperf3 -s, and a
// Python asyncio UDP echo. Each answers its client, and lrpd's XDP redirect
// counter and socket records show lrp carried each one's datagrams, not the
// kernel sockets behind them.
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

#include "tests/preload/child_process.h"
#include "tests/service/lrpd_bench.h"
#include "tests/support/privileges.h"

namespace lrp::test {
namespace {

using namespace std::chrono_literals;

constexpr uint16_t kMetricsPort = 9471;
constexpr uint16_t kSockperfPort = 11111;
constexpr uint16_t kIperfPort = 5201;
constexpr uint16_t kPythonPort = 7777;

std::string python() {
  return access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
}

bool tcp_listening(const VethBench& bench, uint16_t port) {
  return eventually([&] {
    std::string ss;
    run_capture({"ip", "netns", "exec", bench.server_ns, "ss", "-tln"}, 5000, &ss);
    std::string listen = ":";
    listen += std::to_string(port);
    listen += ' ';
    return ss.find(listen) != std::string::npos;
  });
}

// "LOST/TOTAL (P%)  receiver" of iperf3's summary: the total, or -1.
double iperf_received(const std::string& out, double* lost) {
  const size_t receiver = out.find("receiver");
  if (receiver == std::string::npos) return -1;
  const size_t line = out.rfind('\n', receiver) + 1;
  const size_t paren = out.find(" (", line);
  if (paren == std::string::npos || paren > receiver) return -1;
  const size_t token = out.rfind(' ', paren - 1) + 1;
  const std::string counts = out.substr(token, paren - token);
  const size_t slash = counts.find('/');
  if (slash == std::string::npos) return -1;
  *lost = std::stod(counts.substr(0, slash));
  return std::stod(counts.substr(slash + 1));
}

TEST(UnmodifiedServers, ThreeServersShareOneLrpd) {
  LRP_REQUIRE_PRIVILEGES();
  LrpdBench b("three");
  ASSERT_TRUE(b.bench.ok);
  ASSERT_TRUE(b.start_lrpd(kMetricsPort)) << b.lrpd->stderr_text();
  const std::string port = std::to_string(kSockperfPort);
  ChildProcess sockperf(b.lrp_run({"sockperf", "server", "-i", VethBench::kServer4, "-p", port}),
                        temp_path("sockperf"));
  ChildProcess iperf(b.lrp_run({"iperf3", "-s", "-p", std::to_string(kIperfPort)}),
                     temp_path("iperf"));
  ChildProcess asyncio(
      b.lrp_run({python(), std::string(LRP_TEST_SOURCE_DIR) + "/asyncio_udp_echo.py",
                 std::to_string(kPythonPort)}),
      temp_path("asyncio"));
  ASSERT_TRUE(wait_for_output(asyncio, "ready", 20s)) << asyncio.output();
  ASSERT_TRUE(eventually([&] { return b.socket_on(kSockperfPort).local_port != 0; }, 10s))
      << sockperf.output();
  ASSERT_TRUE(eventually([&] { return b.socket_on(kPythonPort).local_port != 0; }))
      << asyncio.output();
  ASSERT_TRUE(tcp_listening(b.bench, kIperfPort)) << iperf.output();
  // Two applications so far, one per process (iperf3 binds its UDP socket
  // when a test starts).
  auto apps = b.apps();
  ASSERT_EQ(apps.size(), 2u);
  EXPECT_NE(apps[0].pid, apps[1].pid);

  // sockperf ping-pong.
  double redirected = b.metric("lrp_xdp_redirected_total");
  std::string out;
  ASSERT_EQ(run_capture({"ip", "netns", "exec", b.bench.client_ns, "sockperf", "ping-pong", "-i",
                         VethBench::kServer4, "-p", port, "-t", "1"},
                        20000, &out),
            0)
      << out;
  const long long ping_sent = number_after(out, "SentMessages=");
  EXPECT_GT(number_after(out, "ReceivedMessages="), 100) << out;
  EXPECT_NE(out.find("Summary: Latency"), std::string::npos) << out;
  EXPECT_GE(b.socket_on(kSockperfPort).delivered, 0.95 * ping_sent);
  EXPECT_GE(b.metric("lrp_xdp_redirected_total") - redirected, 0.95 * ping_sent);

  // iperf3 over UDP: its data socket is connected to the client's.
  redirected = b.metric("lrp_xdp_redirected_total");
  ASSERT_EQ(run_capture({"ip", "netns", "exec", b.bench.client_ns, "iperf3", "-u", "-c",
                         VethBench::kServer4, "-p", std::to_string(kIperfPort), "-t", "1", "-b",
                         "20M", "-l", "1000"},
                        20000, &out),
            0)
      << out << iperf.output();
  double lost = 0;
  const double total = iperf_received(out, &lost);
  EXPECT_GT(total, 1000) << out;
  EXPECT_LE(lost, 0.01 * total) << out;
  EXPECT_GE(b.metric("lrp_xdp_redirected_total") - redirected, 0.95 * total);

  // The asyncio echo.
  redirected = b.metric("lrp_xdp_redirected_total");
  UdpPeer peer(b.bench.client_ns, AF_INET);
  ASSERT_TRUE(peer.ok());
  EXPECT_EQ(ping_pong(peer, kPythonPort, 1000, 4), 1000u) << asyncio.output();
  const auto echo_socket = b.socket_on(kPythonPort);
  EXPECT_EQ(echo_socket.delivered, 1000u);
  EXPECT_EQ(echo_socket.sent, 1000u);
  EXPECT_GE(b.metric("lrp_xdp_redirected_total") - redirected, 1000);

  // The servers still run, each attached on its own.
  apps = b.apps();
  EXPECT_EQ(apps.size(), 2u);
  for (const auto& a : apps) {
    EXPECT_EQ(a.tx_rejected, 0u) << service::get_name(a.name, sizeof(a.name));
    EXPECT_EQ(a.drops[service::kDropInvalid], 0u);
  }
  EXPECT_EQ(sockperf.stop(SIGINT), 0) << sockperf.output();
  iperf.stop();
  asyncio.stop();
  // Every client gone: lrpd took everything back.
  EXPECT_TRUE(eventually([&] { return b.apps().empty() && b.sockets().empty(); }));
}

}  // namespace
}  // namespace lrp::test
