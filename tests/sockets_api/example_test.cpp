// The example program as a process in the server namespace: it answers on
// IPv4 and IPv6 in both threadings and exits cleanly after its count.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <tuple>

#include "tests/support/netns.h"
#include "tests/support/privileges.h"
#include "tests/support/udp_peer.h"

namespace {

using lrp::test::UdpPeer;
using lrp::test::VethBench;

pid_t start_example(const VethBench& bench, const std::string& threading, bool copy) {
  const pid_t pid = fork();
  if (pid == 0) {
    const std::string bin = std::string(LRP_BIN_DIR) + "/lrp-hello-udp";
    // A count never reached here: the program is stopped by signal.
    execlp("ip", "ip", "netns", "exec", bench.server_ns.c_str(), bin.c_str(), "--iface",
           bench.server_if.c_str(), "--port", "7800", "--threading", threading.c_str(), "--count",
           "1000", copy ? "--copy" : static_cast<char*>(nullptr), static_cast<char*>(nullptr));
    _exit(127);
  }
  return pid;
}

// Sends until the greeting comes back or the attempts run out (the first
// datagrams may come before the program has attached).
bool greeted(UdpPeer& peer, const char* server) {
  for (int i = 0; i < 50; ++i) {
    peer.send_to(server, 7800, "world");
    std::string reply;
    if (peer.receive(&reply, 100) && reply == "hello, world") return true;
  }
  return false;
}

// threading, copying style
using Style = std::tuple<std::string, bool>;
class HelloUdp : public ::testing::TestWithParam<Style> {};

TEST_P(HelloUdp, AnswersBothFamilies) {
  LRP_REQUIRE_PRIVILEGES();
  VethBench bench("hello");
  ASSERT_TRUE(bench.ok);
  const pid_t pid = start_example(bench, std::get<0>(GetParam()), std::get<1>(GetParam()));
  UdpPeer p4(bench.client_ns, AF_INET);
  UdpPeer p6(bench.client_ns, AF_INET6);
  EXPECT_TRUE(greeted(p4, VethBench::kServer4));
  EXPECT_TRUE(greeted(p6, VethBench::kServer6));
  kill(pid, SIGTERM);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

INSTANTIATE_TEST_SUITE_P(
    Styles, HelloUdp, ::testing::Combine(::testing::Values("rtc", "dedicated"), ::testing::Bool()),
    [](const ::testing::TestParamInfo<Style>& info) {
      return std::get<0>(info.param) + (std::get<1>(info.param) ? "_copying" : "_zero_copy");
    });

}  // namespace
