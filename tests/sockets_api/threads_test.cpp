// Several threads, each with its own socket, receiving and answering at once;
// and the stack's metrics endpoint.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "tests/sockets_api/stack_bench.h"
#include "tests/support/privileges.h"
#include "tests/support/udp_peer.h"

namespace lrp::sockets::test {
namespace {

using lrp::test::UdpPeer;
using lrp::test::VethBench;
using sched::Threading;

class SocketThreads : public ::testing::TestWithParam<Threading> {};

TEST_P(SocketThreads, DifferentSocketsFromDifferentThreads) {
  LRP_REQUIRE_PRIVILEGES();
  StackBench b;
  ASSERT_EQ(open_stack(b, GetParam(), "sk-thr"), "");
  constexpr size_t kSockets = 4;
  constexpr size_t kEach = 200;
  std::vector<std::unique_ptr<UdpSocket>> sockets;
  for (uint16_t i = 0; i < kSockets; ++i) {
    auto s = b.stack->open_udp(bind_any(false, static_cast<uint16_t>(7900 + i)));
    ASSERT_TRUE(s.ok()) << s.error().message();
    sockets.push_back(std::move(s.value()));
  }
  std::atomic<size_t> foreign{0};
  std::vector<size_t> received(kSockets, 0);
  std::vector<size_t> answered(kSockets, 0);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < kSockets; ++i) {
    threads.emplace_back([&, i] {
      UdpSocket& s = *sockets[i];
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
      Datagram d[32];
      while (received[i] < kEach && std::chrono::steady_clock::now() < deadline) {
        auto n = s.receive(d, 50);
        if (!n.ok()) return;
        for (size_t k = 0; k < n.value(); ++k) {
          if (d[k].slot != s.slot()) foreign.fetch_add(1);
          if (s.reply(d[k], d[k].view.payload).ok()) ++answered[i];
        }
        s.done(std::span<const Datagram>(d, n.value()));
        received[i] += n.value();
      }
    });
  }
  UdpPeer peer(b.veth->client_ns, AF_INET);
  const int size = 8 << 20;
  ASSERT_EQ(setsockopt(peer.fd(), SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)), 0);
  for (size_t round = 0; round < kEach / 50; ++round)
    for (uint16_t i = 0; i < kSockets; ++i)
      ASSERT_EQ(peer.send_many(VethBench::kServer4, static_cast<uint16_t>(7900 + i), 50, 64), 50u);
  for (auto& t : threads) t.join();
  for (size_t i = 0; i < kSockets; ++i) EXPECT_EQ(received[i], kEach) << "socket " << i;
  EXPECT_EQ(foreign.load(), 0u);
  size_t total_answered = 0;
  for (size_t a : answered) total_answered += a;
  // Answers may wait for ARP at first (EAGAIN); most go out.
  EXPECT_GT(total_answered, 0u);
  size_t replies = 0;
  std::string payload;
  while (replies < total_answered && peer.receive(&payload, 500)) ++replies;
  EXPECT_EQ(replies, total_answered);
  std::string why;
  EXPECT_TRUE(b.runtime().engine(0).frames_accounted(&why)) << why;
}

INSTANTIATE_TEST_SUITE_P(All, SocketThreads,
                         ::testing::Values(Threading::RunToCompletion, Threading::Dedicated),
                         [](const ::testing::TestParamInfo<Threading>& info) {
                           return std::string(sched::to_string(info.param));
                         });

std::string http_get(uint16_t port, const std::string& path) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string body;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    const std::string request =
        "GET " + path + " HTTP/1.0\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    (void)!write(fd, request.data(), request.size());
    timeval tv{2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    char buffer[4096];
    ssize_t n;
    while ((n = read(fd, buffer, sizeof(buffer))) > 0) body.append(buffer, static_cast<size_t>(n));
  }
  close(fd);
  return body;
}

TEST(StackMetrics, ServesTheStacksCounters) {
  LRP_REQUIRE_PRIVILEGES();
  StackBench b;
  ASSERT_EQ(open_stack(b, Threading::RunToCompletion, "sk-met"), "");
  EXPECT_EQ(b.stack->metrics_url(), "");
  auto socket = b.stack->open_udp(bind_any(false, 7950), {.application = {.name = "metered"}});
  ASSERT_TRUE(socket.ok()) << socket.error().message();
  auto url = b.stack->start_metrics("127.0.0.1:0");
  ASSERT_TRUE(url.ok()) << url.error().message();
  EXPECT_EQ(b.stack->metrics_url(), url.value());
  EXPECT_EQ(b.stack->start_metrics("127.0.0.1:0").error().code, EALREADY);
  const size_t colon = url.value().rfind(':');
  const auto port = static_cast<uint16_t>(std::stoi(url.value().substr(colon + 1)));
  const std::string page = http_get(port, "/metrics");
  EXPECT_NE(page.find("lrp_datagrams_delivered_total"), std::string::npos) << page.substr(0, 300);
  EXPECT_NE(page.find("metered"), std::string::npos);
}

}  // namespace
}  // namespace lrp::sockets::test
