// lrp-echo as a real process under faults: its interface goes down, comes
// back and is deleted; it is killed outright in the middle of a flood; a
// second lrp process tries to take its interface.
#include "tests/reliability/server_process.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "tests/support/netns.h"
#include "tests/support/privileges.h"
#include "tests/support/udp_peer.h"

namespace lrp::test {
namespace {

using namespace std::chrono_literals;

std::vector<std::string> echo_args(const VethBench& bench, uint16_t port,
                                   const char* threading = "dedicated") {
  return {"--iface",     bench.server_if, "--port", std::to_string(port),
          "--threading", threading,       "--quiet"};
}

// Sends until an echo comes back or the attempts run out.
bool echoes(UdpPeer& client, uint16_t port, int attempts = 50) {
  for (int i = 0; i < attempts; ++i) {
    client.send_to(VethBench::kServer4, port, "ping");
    std::string reply;
    while (client.receive(&reply, 100))
      if (reply == "ping") return true;
  }
  return false;
}

bool xdp_attached(const VethBench& bench) {
  return run("ip -n " + bench.server_ns + " link show " + bench.server_if + " | grep -q xdp") == 0;
}

bool sanitizer_quiet(const std::string& text) {
  return text.find("Sanitizer") == std::string::npos &&
         text.find("runtime error") == std::string::npos;
}

// A connected UDP socket in the client namespace: an ICMP port unreachable
// for what it sent shows up as ECONNREFUSED.
bool port_unreachable(const VethBench& bench, uint16_t port) {
  NetnsGuard in(bench.client_ns);
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  inet_pton(AF_INET, VethBench::kServer4, &to.sin_addr);
  bool refused = false;
  if (connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof(to)) == 0) {
    // ICMP errors are rate limited per peer: a few tries, spaced out.
    for (int i = 0; i < 10 && !refused; ++i) {
      (void)!send(fd, "x", 1, 0);
      pollfd p{fd, POLLIN, 0};
      poll(&p, 1, 300);
      char c;
      refused = recv(fd, &c, 1, MSG_DONTWAIT) < 0 && errno == ECONNREFUSED;
    }
  }
  close(fd);
  return refused;
}

TEST(ServerProcess, ReportsLinkDownAndUpRecoversAndStopsWhenDeleted) {
  LRP_REQUIRE_PRIVILEGES();
  VethBench bench("lnk");
  ASSERT_TRUE(bench.ok);
  ServerProcess echo(bench.server_ns, "lrp-echo", echo_args(bench, 9300));
  UdpPeer client(bench.client_ns, AF_INET);
  ASSERT_TRUE(echoes(client, 9300)) << echo.stderr_text();
  const std::string link = "ip -n " + bench.server_ns + " link ";

  ASSERT_EQ(run(link + "set " + bench.server_if + " down"), 0);
  EXPECT_TRUE(echo.wait_stderr(bench.server_if + " is down", 3s)) << echo.stderr_text();
  ASSERT_EQ(run(link + "set " + bench.server_if + " up"), 0);
  EXPECT_TRUE(echo.wait_stderr(bench.server_if + " is up again", 3s)) << echo.stderr_text();
  EXPECT_TRUE(echoes(client, 9300)) << "no echo after the link came back";

  ASSERT_EQ(run(link + "del " + bench.server_if), 0);
  const auto status = echo.wait_exit(5s);
  ASSERT_TRUE(status.has_value()) << "lrp-echo kept running without its interface";
  ASSERT_TRUE(WIFEXITED(*status)) << "died of signal " << WTERMSIG(*status);
  EXPECT_EQ(WEXITSTATUS(*status), 0);
  const std::string err = echo.stderr_text();
  EXPECT_NE(err.find("interface " + bench.server_if + " was deleted: stopping"), std::string::npos)
      << err;
  EXPECT_TRUE(sanitizer_quiet(err)) << err;
}

TEST(ServerProcess, KilledWhileReceivingFallsBackToTheKernelAndRestarts) {
  LRP_REQUIRE_PRIVILEGES();
  VethBench bench("kfl");
  ASSERT_TRUE(bench.ok);
  constexpr uint16_t kPort = 9400;
  auto echo = std::make_unique<ServerProcess>(bench.server_ns, "lrp-echo", echo_args(bench, kPort));
  UdpPeer client(bench.client_ns, AF_INET);
  ASSERT_TRUE(echoes(client, kPort)) << echo->stderr_text();

  // A flood to the served port for the whole test, bounded in time.
  std::atomic<bool> flooding{true};
  std::thread flood([&] {
    UdpPeer flooder(bench.client_ns, AF_INET);
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (flooding && std::chrono::steady_clock::now() < deadline) {
      flooder.send_many(VethBench::kServer4, kPort, 256, 18);
      std::this_thread::sleep_for(1ms);
    }
  });
  std::this_thread::sleep_for(300ms);
  echo->signal(SIGKILL);
  const auto status = echo->wait_exit(3s);
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFSIGNALED(*status) && WTERMSIG(*status) == SIGKILL);
  for (int i = 0; i < 100 && xdp_attached(bench); ++i) std::this_thread::sleep_for(20ms);
  EXPECT_FALSE(xdp_attached(bench)) << "the XDP program outlived its process";

  {
    // The flood now reaches the kernel stack: a kernel socket receives it.
    UdpPeer kernel_server(bench.server_ns, AF_INET, kPort);
    ASSERT_TRUE(kernel_server.ok());
    std::string got;
    EXPECT_TRUE(kernel_server.receive(&got, 2000)) << "traffic to the port vanished";
  }
  flooding = false;
  flood.join();
  // With nobody on the port, the kernel answers ICMP port unreachable.
  std::this_thread::sleep_for(1100ms);  // let the ICMP rate limit refill after the flood
  EXPECT_TRUE(port_unreachable(bench, kPort));

  // A restart takes the interface again and serves.
  echo = std::make_unique<ServerProcess>(bench.server_ns, "lrp-echo", echo_args(bench, kPort));
  EXPECT_TRUE(echoes(client, kPort)) << echo->stderr_text();
  echo->signal(SIGTERM);
  const auto stopped = echo->wait_exit(5s);
  ASSERT_TRUE(stopped.has_value());
  EXPECT_TRUE(WIFEXITED(*stopped) && WEXITSTATUS(*stopped) == 0) << echo->stderr_text();
  EXPECT_TRUE(sanitizer_quiet(echo->stderr_text())) << echo->stderr_text();
}

TEST(ServerProcess, SecondProcessOnTheInterfaceIsRefusedClearly) {
  LRP_REQUIRE_PRIVILEGES();
  VethBench bench("two");
  ASSERT_TRUE(bench.ok);
  ServerProcess first(bench.server_ns, "lrp-echo", echo_args(bench, 9500));
  UdpPeer client(bench.client_ns, AF_INET);
  ASSERT_TRUE(echoes(client, 9500)) << first.stderr_text();
  // The same port, and another port: the interface is taken either way.
  for (uint16_t port : {9500, 9501}) {
    SCOPED_TRACE(port);
    ServerProcess second(bench.server_ns, "lrp-echo", echo_args(bench, port));
    const auto status = second.wait_exit(5s);
    ASSERT_TRUE(status.has_value()) << "the second lrp-echo kept running";
    ASSERT_TRUE(WIFEXITED(*status));
    EXPECT_NE(WEXITSTATUS(*status), 0);
    const std::string err = second.stderr_text();
    EXPECT_NE(err.find("lrp-echo: interface " + bench.server_if +
                       " is already served by another lrp process"),
              std::string::npos)
        << err;
    EXPECT_EQ(err.find("removed a stale"), std::string::npos) << err;
  }
  EXPECT_TRUE(echoes(client, 9500)) << "the first server was disturbed";
  EXPECT_TRUE(first.running());
}

}  // namespace
}  // namespace lrp::test
