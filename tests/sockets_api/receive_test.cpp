// Receiving on native UDP sockets over a veth pair: the peer is an ordinary
// kernel socket in the other namespace.
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <tuple>

#include "tests/sockets_api/stack_bench.h"
#include "tests/support/privileges.h"
#include "tests/support/udp_peer.h"

namespace lrp::sockets::test {
namespace {

using lrp::test::UdpPeer;
using lrp::test::VethBench;
using sched::Threading;

const char* server_text(bool v6) {
  return v6 ? VethBench::kServer6 : VethBench::kServer4;
}
const char* client_text(bool v6) {
  return v6 ? VethBench::kClient6 : VethBench::kClient4;
}

// threading, IPv6, bound to the server's address (else to any address)
using RoundTrip = std::tuple<Threading, bool, bool>;
class SocketRoundTrip : public ::testing::TestWithParam<RoundTrip> {};

TEST_P(SocketRoundTrip, ReceivesFromThePeerAndReplies) {
  LRP_REQUIRE_PRIVILEGES();
  const auto [threading, v6, bound] = GetParam();
  StackBench b;
  ASSERT_EQ(open_stack(b, threading, "sk-rt"), "");
  BindSpec bind = bind_any(v6, 7200);
  if (bound) bind.local = address(server_text(v6));
  auto socket = b.stack->open_udp(bind);
  ASSERT_TRUE(socket.ok()) << socket.error().message();
  UdpSocket& s = *socket.value();
  UdpPeer peer(b.veth->client_ns, v6 ? AF_INET6 : AF_INET);
  ASSERT_TRUE(peer.ok());

  ASSERT_TRUE(peer.send_to(server_text(v6), 7200, "ping"));
  Datagram d[8];
  auto n = s.receive(d, 2000);
  ASSERT_TRUE(n.ok()) << n.error().message();
  ASSERT_EQ(n.value(), 1u);
  EXPECT_EQ(text(d[0].view.payload), "ping");
  EXPECT_EQ(d[0].view.source.addr, address(client_text(v6)));
  EXPECT_EQ(d[0].view.source.port, peer.port());
  EXPECT_EQ(d[0].view.destination, (Endpoint{address(server_text(v6)), 7200}));
  EXPECT_EQ(d[0].slot, s.slot());

  // The first reply may wait for neighbour resolution (EAGAIN, retried).
  Status st;
  for (int i = 0; i < 400; ++i) {
    st = s.reply(d[0], bytes("pong"));
    if (st.ok() || st.error().code != EAGAIN) break;
    usleep(5000);
  }
  ASSERT_TRUE(st.ok()) << st.error().message();
  s.done(d[0]);

  std::string payload, from;
  uint16_t from_port = 0;
  ASSERT_TRUE(peer.receive(&payload, 2000, &from, &from_port));
  EXPECT_EQ(payload, "pong");
  EXPECT_EQ(address(from.c_str()), address(server_text(v6)));
  EXPECT_EQ(from_port, 7200);
  std::string why;
  EXPECT_TRUE(b.runtime().engine(0).frames_accounted(&why)) << why;
}

INSTANTIATE_TEST_SUITE_P(All, SocketRoundTrip,
                         ::testing::Combine(::testing::Values(Threading::RunToCompletion,
                                                              Threading::Dedicated),
                                            ::testing::Bool(), ::testing::Bool()),
                         [](const ::testing::TestParamInfo<RoundTrip>& info) {
                           return std::string(sched::to_string(std::get<0>(info.param))) +
                                  (std::get<1>(info.param) ? "_v6" : "_v4") +
                                  (std::get<2>(info.param) ? "_bound" : "_any");
                         });

class SocketReceive : public ::testing::TestWithParam<Threading> {};

// A connected socket's exact flow wins over the wildcard socket on its port;
// other senders still reach the wildcard socket, and each receives only its
// own. As in the kernel, two sockets share a port when both reuse addresses.
TEST_P(SocketReceive, ConnectedFlowTakesPrecedenceOverWildcard) {
  LRP_REQUIRE_PRIVILEGES();
  StackBench b;
  ASSERT_EQ(open_stack(b, GetParam(), "sk-conn"), "");
  UdpPeer near(b.veth->client_ns, AF_INET);
  UdpPeer far(b.veth->client_ns, AF_INET);
  ASSERT_TRUE(near.ok() && far.ok());
  SocketConfig shared;
  shared.reuse_address = true;
  auto wildcard = b.stack->open_udp(bind_any(false, 7210), shared);
  ASSERT_TRUE(wildcard.ok()) << wildcard.error().message();
  BindSpec connected = bind_any(false, 7210);
  connected.remote = Endpoint{address(VethBench::kClient4), near.port()};
  auto exact = b.stack->open_udp(connected, shared);
  ASSERT_TRUE(exact.ok()) << exact.error().message();
  // The wildcard local address became the interface's address.
  EXPECT_EQ(exact.value()->local().addr, address(VethBench::kServer4));

  ASSERT_TRUE(near.send_to(VethBench::kServer4, 7210, "near"));
  ASSERT_TRUE(far.send_to(VethBench::kServer4, 7210, "far"));
  uint8_t buffer[64];
  auto got_exact = exact.value()->receive_copy(buffer, 2000);
  ASSERT_TRUE(got_exact.ok()) << got_exact.error().message();
  EXPECT_EQ(text({buffer, got_exact->size}), "near");
  auto got_wild = wildcard.value()->receive_copy(buffer, 2000);
  ASSERT_TRUE(got_wild.ok()) << got_wild.error().message();
  EXPECT_EQ(text({buffer, got_wild->size}), "far");
  EXPECT_EQ(got_wild->source.port, far.port());
  // Neither saw the other's datagram.
  EXPECT_EQ(exact.value()->receive_copy(buffer, 0).error().code, EAGAIN);
  EXPECT_EQ(wildcard.value()->receive_copy(buffer, 0).error().code, EAGAIN);

  // connect() at run time moves the wildcard socket to an exact flow too.
  ASSERT_TRUE(wildcard.value()->connect(Endpoint{address(VethBench::kClient4), far.port()}).ok());
  ASSERT_TRUE(far.send_to(VethBench::kServer4, 7210, "far again"));
  auto again = wildcard.value()->receive_copy(buffer, 2000);
  ASSERT_TRUE(again.ok()) << again.error().message();
  EXPECT_EQ(text({buffer, again->size}), "far again");
  // And sends to its remote without naming it.
  Status st;
  for (int i = 0; i < 400; ++i) {
    st = wildcard.value()->send(bytes("to far"));
    if (st.ok() || st.error().code != EAGAIN) break;
    usleep(5000);
  }
  ASSERT_TRUE(st.ok()) << st.error().message();
  std::string payload;
  ASSERT_TRUE(far.receive(&payload, 2000));
  EXPECT_EQ(payload, "to far");
}

// Zero-copy: a batch of views into frames, held until done.
TEST_P(SocketReceive, BatchIsHeldUntilDone) {
  LRP_REQUIRE_PRIVILEGES();
  StackBench b;
  ASSERT_EQ(open_stack(b, GetParam(), "sk-batch"), "");
  auto socket = b.stack->open_udp(bind_any(false, 7220));
  ASSERT_TRUE(socket.ok()) << socket.error().message();
  UdpSocket& s = *socket.value();
  UdpPeer peer(b.veth->client_ns, AF_INET);
  constexpr size_t kCount = 40;
  ASSERT_EQ(peer.send_many(VethBench::kServer4, 7220, kCount, 100), kCount);
  std::vector<Datagram> held;
  Datagram d[64];
  for (int i = 0; i < 100 && held.size() < kCount; ++i) {
    auto n = s.receive(d, 200);
    ASSERT_TRUE(n.ok());
    held.insert(held.end(), d, d + n.value());
  }
  ASSERT_EQ(held.size(), kCount);
  FramePool& pool = b.runtime().engine(0).frames();
  EXPECT_EQ(pool.held_by(s.slot()), kCount);
  for (const Datagram& x : held) EXPECT_EQ(x.view.payload.size(), 100u);
  s.done(held);
  EXPECT_EQ(pool.held_by(s.slot()), 0u);
  std::string why;
  EXPECT_TRUE(b.runtime().engine(0).frames_accounted(&why)) << why;
}

// A client on the server's own host reaches the socket through the loopback
// path, not the lrp interface: the kernel socket beside the lrp socket takes
// the datagram, the receive hands it out with the lrp ones, and the reply
// goes back through the kernel.
TEST_P(SocketReceive, DatagramsFromThisHostArriveThroughTheKernelSocket) {
  LRP_REQUIRE_PRIVILEGES();
  StackBench b;
  ASSERT_EQ(open_stack(b, GetParam(), "sk-local"), "");
  auto socket = b.stack->open_udp(bind_any(false, 7225));
  ASSERT_TRUE(socket.ok()) << socket.error().message();
  UdpSocket& s = *socket.value();
  UdpPeer local(b.veth->server_ns, AF_INET);
  UdpPeer remote(b.veth->client_ns, AF_INET);
  ASSERT_TRUE(local.send_to(VethBench::kServer4, 7225, "from-here"));
  ASSERT_TRUE(remote.send_to(VethBench::kServer4, 7225, "from-there"));
  std::vector<std::string> seen;
  Datagram d[8];
  for (int i = 0; i < 50 && seen.size() < 2; ++i) {
    auto n = s.receive(d, 100);
    ASSERT_TRUE(n.ok()) << n.error().message();
    for (size_t k = 0; k < n.value(); ++k) {
      const std::string text(d[k].view.payload.begin(), d[k].view.payload.end());
      seen.push_back(text);
      EXPECT_EQ(d[k].queue == kKernelQueue, text == "from-here") << text;
      EXPECT_EQ(d[k].view.destination.port, 7225);
      EXPECT_TRUE(s.reply(d[k], d[k].view.payload).ok());
    }
    s.done(std::span<const Datagram>(d, n.value()));
  }
  ASSERT_EQ(seen.size(), 2u);
  std::string echo;
  ASSERT_TRUE(local.receive(&echo, 2000));
  EXPECT_EQ(echo, "from-here");
  ASSERT_TRUE(remote.receive(&echo, 2000));
  EXPECT_EQ(echo, "from-there");
}

// Copying receive: truncation is reported, the rest discarded, the local
// address given when asked for.
TEST_P(SocketReceive, CopyTruncatesAndReportsLocalAddress) {
  LRP_REQUIRE_PRIVILEGES();
  StackBench b;
  ASSERT_EQ(open_stack(b, GetParam(), "sk-copy"), "");
  SocketConfig config;
  config.receive_local_address = true;
  auto socket = b.stack->open_udp(bind_any(true, 7230), config);
  ASSERT_TRUE(socket.ok()) << socket.error().message();
  UdpSocket& s = *socket.value();
  UdpPeer peer(b.veth->client_ns, AF_INET6);
  ASSERT_TRUE(peer.send_to(VethBench::kServer6, 7230, "0123456789"));
  ASSERT_TRUE(peer.send_to(VethBench::kServer6, 7230, "abc"));
  uint8_t small[4];
  auto first = s.receive_copy(small, 2000);
  ASSERT_TRUE(first.ok()) << first.error().message();
  EXPECT_EQ(first->size, 4u);
  EXPECT_EQ(first->datagram_size, 10u);
  EXPECT_TRUE(first->truncated);
  EXPECT_EQ(text({small, 4}), "0123");
  ASSERT_TRUE(first->local.has_value());
  EXPECT_EQ(*first->local, (Endpoint{address(VethBench::kServer6), 7230}));
  EXPECT_EQ(first->source, (Endpoint{address(VethBench::kClient6), peer.port()}));
  // The next datagram is whole: the truncated rest did not spill over.
  ASSERT_TRUE(s.set_option(Option::ReceiveLocalAddress, 0).ok());
  auto second = s.receive_copy(small, 2000);
  ASSERT_TRUE(second.ok()) << second.error().message();
  EXPECT_EQ(text({small, second->size}), "abc");
  EXPECT_FALSE(second->truncated);
  EXPECT_FALSE(second->local.has_value());
  EXPECT_EQ(b.runtime().engine(0).frames().held_by(s.slot()), 0u);
}

TEST_P(SocketReceive, NonBlockingAndTimedReceiveReturnEmpty) {
  LRP_REQUIRE_PRIVILEGES();
  StackBench b;
  ASSERT_EQ(open_stack(b, GetParam(), "sk-wait"), "");
  auto socket = b.stack->open_udp(bind_any(false, 7240));
  ASSERT_TRUE(socket.ok()) << socket.error().message();
  UdpSocket& s = *socket.value();
  Datagram d[4];
  auto none = s.receive(d, kNoWait);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none.value(), 0u);
  uint8_t buffer[16];
  EXPECT_EQ(s.receive_copy(buffer, kNoWait).error().code, EAGAIN);
  // Blocking with a timeout comes back empty when nothing arrives.
  auto timed = s.receive(d, 150);
  ASSERT_TRUE(timed.ok());
  EXPECT_EQ(timed.value(), 0u);
  EXPECT_EQ(s.receive_copy(buffer, 150).error().code, EAGAIN);
}

INSTANTIATE_TEST_SUITE_P(All, SocketReceive,
                         ::testing::Values(Threading::RunToCompletion, Threading::Dedicated),
                         [](const ::testing::TestParamInfo<Threading>& info) {
                           return std::string(sched::to_string(info.param));
                         });

}  // namespace
}  // namespace lrp::sockets::test
