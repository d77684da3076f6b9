// lrp-echo as a process: it answers, it leaves nothing behind on SIGINT and
// SIGTERM, and when killed outright its ports fall back to the kernel stack.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <thread>

#include "tests/support/netns.h"
#include "tests/support/privileges.h"
#include "tests/support/udp_peer.h"

namespace lrp {
namespace {

using test::UdpPeer;
using test::VethBench;

pid_t start_echo(const VethBench& bench, uint16_t port, const std::string& mode,
                 const std::string& threading) {
  pid_t pid = fork();
  if (pid == 0) {
    const std::string bin = std::string(LRP_BIN_DIR) + "/lrp-echo";
    const std::string port_text = std::to_string(port);
    execlp("ip", "ip", "netns", "exec", bench.server_ns.c_str(), bin.c_str(), "--iface",
           bench.server_if.c_str(), "--port", port_text.c_str(), "--mode", mode.c_str(),
           "--threading", threading.c_str(), "--quiet", static_cast<char*>(nullptr));
    _exit(127);
  }
  return pid;
}

// Sends until an echo comes back or the time runs out.
bool echoes(UdpPeer& client, uint16_t port, int attempts) {
  for (int i = 0; i < attempts; ++i) {
    client.send_to(VethBench::kServer4, port, "ping");
    std::string reply;
    if (client.receive(&reply, 100) && reply == "ping") return true;
  }
  return false;
}

bool xdp_attached(const VethBench& bench) {
  return test::run("ip -n " + bench.server_ns + " link show " + bench.server_if +
                   " | grep -q xdp") == 0;
}

class EchoProcess : public ::testing::TestWithParam<int> {};

TEST_P(EchoProcess, AnswersAndCleansUpOnSignal) {
  LRP_REQUIRE_PRIVILEGES();
  VethBench bench("sig");
  ASSERT_TRUE(bench.ok);
  for (const char* threading : {"rtc", "dedicated"}) {
    pid_t pid = start_echo(bench, 9100, "adaptive", threading);
    UdpPeer client(bench.client_ns, AF_INET);
    ASSERT_TRUE(echoes(client, 9100, 50)) << threading;
    EXPECT_TRUE(xdp_attached(bench));
    kill(pid, GetParam());
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status)) << "lrp-echo died of signal " << WTERMSIG(status);
    EXPECT_EQ(WEXITSTATUS(status), 0);
    EXPECT_FALSE(xdp_attached(bench)) << "XDP program left attached after signal";
  }
}

INSTANTIATE_TEST_SUITE_P(Signals, EchoProcess, ::testing::Values(SIGINT, SIGTERM),
                         [](const auto& info) { return std::string(sigabbrev_np(info.param)); });

TEST(EchoProcessKilled, PortFallsBackToTheKernelStack) {
  LRP_REQUIRE_PRIVILEGES();
  VethBench bench("kil");
  ASSERT_TRUE(bench.ok);
  pid_t pid = start_echo(bench, 9200, "poll", "dedicated");
  UdpPeer client(bench.client_ns, AF_INET);
  ASSERT_TRUE(echoes(client, 9200, 50));
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  // `ip netns exec` forwards nothing; its child lrp-echo may take a moment to go.
  for (int i = 0; i < 100 && xdp_attached(bench); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_FALSE(xdp_attached(bench)) << "the BPF link did not die with the process";
  {
    UdpPeer kernel_server(bench.server_ns, AF_INET, 9200);
    ASSERT_TRUE(kernel_server.ok());
    ASSERT_TRUE(client.send_to(VethBench::kServer4, 9200, "after-kill"));
    std::string got;
    ASSERT_TRUE(kernel_server.receive(&got, 2000)) << "traffic to the port vanished";
    EXPECT_EQ(got, "after-kill");
  }
  // A restart works.
  pid = start_echo(bench, 9200, "adaptive", "rtc");
  EXPECT_TRUE(echoes(client, 9200, 50));
  kill(pid, SIGTERM);
  waitpid(pid, nullptr, 0);
}

}  // namespace
}  // namespace lrp
