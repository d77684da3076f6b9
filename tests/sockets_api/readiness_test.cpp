// The readiness fd of a socket in the caller's own epoll loop: readable
// exactly while a receive would find something.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <chrono>
#include <map>

#include "tests/sockets_api/stack_bench.h"
#include "tests/support/privileges.h"
#include "tests/support/udp_peer.h"

namespace lrp::sockets::test {
namespace {

using lrp::test::UdpPeer;
using lrp::test::VethBench;
using sched::Threading;

int ready_now(int fd) {
  epoll_event ev;
  return epoll_wait(fd, &ev, 1, 0);
}

class SocketReadiness : public ::testing::TestWithParam<Threading> {};

TEST_P(SocketReadiness, LevelTriggeredUntilEverythingIsRead) {
  LRP_REQUIRE_PRIVILEGES();
  StackBench b;
  ASSERT_EQ(open_stack(b, GetParam(), "sk-ready"), "");
  auto socket = b.stack->open_udp(bind_any(false, 7300));
  ASSERT_TRUE(socket.ok()) << socket.error().message();
  UdpSocket& s = *socket.value();
  const int ep = epoll_create1(EPOLL_CLOEXEC);
  ASSERT_GE(ep, 0);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ASSERT_EQ(epoll_ctl(ep, EPOLL_CTL_ADD, s.ready_fd(), &ev), 0);
  EXPECT_EQ(ready_now(ep), 0);

  UdpPeer peer(b.veth->client_ns, AF_INET);
  ASSERT_EQ(peer.send_many(VethBench::kServer4, 7300, 3, 16), 3u);
  epoll_event out;
  ASSERT_EQ(epoll_wait(ep, &out, 1, 2000), 1);
  // poll and select see the same fd the same way.
  pollfd pfd{s.ready_fd(), POLLIN, 0};
  EXPECT_EQ(poll(&pfd, 1, 0), 1);
  // One at a time: still readable while the others wait.
  uint8_t buffer[32];
  size_t got = 0;
  for (int i = 0; i < 50 && got < 3; ++i) {
    if (epoll_wait(ep, &out, 1, 200) != 1) continue;
    auto r = s.receive_copy(buffer, kNoWait);
    if (r.ok()) ++got;
  }
  EXPECT_EQ(got, 3u);
  EXPECT_EQ(ready_now(ep), 0);
  EXPECT_EQ(poll(&pfd, 1, 0), 0);
  uint8_t more[32];
  EXPECT_EQ(s.receive_copy(more, kNoWait).error().code, EAGAIN);

  // Zero-copy, one at a time: datagrams left behind keep the fd readable.
  ASSERT_EQ(peer.send_many(VethBench::kServer4, 7300, 3, 16), 3u);
  ASSERT_EQ(epoll_wait(ep, &out, 1, 2000), 1);
  usleep(50000);  // all three have arrived
  got = 0;
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(ready_now(ep), 1) << "after " << got;
    Datagram d[1];
    auto r = s.receive(d, kNoWait);
    ASSERT_TRUE(r.ok());
    got += r.value();
    s.done(std::span<const Datagram>(d, r.value()));
  }
  EXPECT_EQ(got, 3u);
  EXPECT_EQ(ready_now(ep), 0);
  close(ep);
}

// A server loop over two sockets: epoll says which, a non-blocking receive
// on it gets the datagrams (and in run-to-completion threading does their
// protocol work right there).
TEST_P(SocketReadiness, EpollLoopServesSeveralSockets) {
  LRP_REQUIRE_PRIVILEGES();
  StackBench b;
  ASSERT_EQ(open_stack(b, GetParam(), "sk-loop"), "");
  auto a = b.stack->open_udp(bind_any(false, 7310));
  auto c = b.stack->open_udp(bind_any(true, 7311));
  ASSERT_TRUE(a.ok() && c.ok());
  std::map<int, UdpSocket*> by_fd{{a.value()->ready_fd(), a.value().get()},
                                  {c.value()->ready_fd(), c.value().get()}};
  const int ep = epoll_create1(EPOLL_CLOEXEC);
  for (const auto& [fd, socket] : by_fd) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    ASSERT_EQ(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev), 0);
  }
  UdpPeer p4(b.veth->client_ns, AF_INET);
  UdpPeer p6(b.veth->client_ns, AF_INET6);
  constexpr size_t kEach = 50;
  ASSERT_EQ(p4.send_many(VethBench::kServer4, 7310, kEach, 32), kEach);
  ASSERT_EQ(p6.send_many(VethBench::kServer6, 7311, kEach, 32), kEach);
  std::map<UdpSocket*, size_t> received;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (received[a.value().get()] + received[c.value().get()] < 2 * kEach &&
         std::chrono::steady_clock::now() < deadline) {
    epoll_event events[4];
    const int n = epoll_wait(ep, events, 4, 100);
    for (int i = 0; i < n; ++i) {
      UdpSocket* s = by_fd.at(events[i].data.fd);
      Datagram d[16];
      auto got = s->receive(d, kNoWait);
      ASSERT_TRUE(got.ok());
      for (size_t k = 0; k < got.value(); ++k) EXPECT_EQ(d[k].slot, s->slot());
      received[s] += got.value();
      s->done(std::span<const Datagram>(d, got.value()));
    }
  }
  EXPECT_EQ(received[a.value().get()], kEach);
  EXPECT_EQ(received[c.value().get()], kEach);
  close(ep);
}

INSTANTIATE_TEST_SUITE_P(All, SocketReadiness,
                         ::testing::Values(Threading::RunToCompletion, Threading::Dedicated),
                         [](const ::testing::TestParamInfo<Threading>& info) {
                           return std::string(sched::to_string(info.param));
                         });

}  // namespace
}  // namespace lrp::sockets::test
