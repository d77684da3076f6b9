// Sending from native UDP sockets: batches, and back-pressure that comes
// back as EAGAIN and goes away once the queued frames are transmitted.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <vector>

#include "tests/sockets_api/stack_bench.h"
#include "tests/support/privileges.h"
#include "tests/support/udp_peer.h"

namespace lrp::sockets::test {
namespace {

using lrp::test::UdpPeer;
using lrp::test::VethBench;
using sched::Threading;

// Room for everything a test sends, so the peer never drops.
void grow_receive_buffer(UdpPeer& peer) {
  const int size = 8 << 20;
  ASSERT_EQ(setsockopt(peer.fd(), SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)), 0);
}

size_t drain(UdpPeer& peer, size_t expected) {
  size_t n = 0;
  std::string payload;
  while (n < expected && peer.receive(&payload, 1000)) ++n;
  return n;
}

class SocketSend : public ::testing::TestWithParam<Threading> {};

TEST_P(SocketSend, BatchArrives) {
  LRP_REQUIRE_PRIVILEGES();
  StackBench b;
  ASSERT_EQ(open_stack(b, GetParam(), "sk-send"), "");
  auto socket = b.stack->open_udp(bind_any(true, 7400));
  ASSERT_TRUE(socket.ok()) << socket.error().message();
  UdpSocket& s = *socket.value();
  UdpPeer peer(b.veth->client_ns, AF_INET6, 7401);
  grow_receive_buffer(peer);
  const Endpoint to{address(VethBench::kClient6), 7401};
  const Status first = send_retrying(s, to, "first");  // resolves the neighbour
  ASSERT_TRUE(first.ok()) << first.error().message();
  ASSERT_EQ(drain(peer, 1), 1u);

  const std::string payload = "batch";
  std::vector<OutDatagram> batch(64, OutDatagram{to, bytes(payload), address(VethBench::kServer6)});
  auto sent = s.send_batch(batch);
  ASSERT_TRUE(sent.ok()) << sent.error().message();
  EXPECT_EQ(sent.value(), batch.size());
  std::string got, from;
  ASSERT_TRUE(peer.receive(&got, 2000, &from));
  EXPECT_EQ(got, "batch");
  EXPECT_EQ(address(from.c_str()), address(VethBench::kServer6));
  EXPECT_EQ(1 + drain(peer, batch.size() - 1), batch.size());
  EXPECT_EQ(s.counters().sent, 1 + batch.size());
}

TEST_P(SocketSend, BackPressureIsEagainAndRetryWorks) {
  LRP_REQUIRE_PRIVILEGES();
  StackBench b;
  ASSERT_EQ(open_stack(b, GetParam(), "sk-bp"), "");
  auto socket = b.stack->open_udp(bind_any(false, 7410));
  ASSERT_TRUE(socket.ok()) << socket.error().message();
  UdpSocket& s = *socket.value();
  UdpPeer peer(b.veth->client_ns, AF_INET, 7411);
  grow_receive_buffer(peer);
  const Endpoint to{address(VethBench::kClient4), 7411};
  ASSERT_TRUE(send_retrying(s, to, "first").ok());
  ASSERT_EQ(drain(peer, 1), 1u);

  // Queue without kicking until the socket's in-flight budget is used up.
  const std::string payload = "pressure";
  std::vector<OutDatagram> batch(64, OutDatagram{to, bytes(payload), std::nullopt});
  size_t queued = 0;
  bool refused = false;
  for (int i = 0; i < 100 && !refused; ++i) {
    auto r = s.send_batch(batch, Kick::Later);
    if (!r.ok()) {
      ASSERT_EQ(r.error().code, EAGAIN) << r.error().message();
      refused = true;
    } else {
      queued += r.value();
    }
  }
  ASSERT_TRUE(refused) << "never pushed back after " << queued << " datagrams";
  EXPECT_GT(queued, 0u);
  EXPECT_GT(s.counters().send_would_block, 0u);

  // Transmitting frees the budget: the retry goes through.
  ASSERT_TRUE(s.flush().ok());
  auto retry = s.send_batch(batch);
  ASSERT_TRUE(retry.ok()) << retry.error().message();
  EXPECT_EQ(retry.value(), batch.size());
  EXPECT_EQ(drain(peer, queued + batch.size()), queued + batch.size());
  std::string why;
  EXPECT_TRUE(b.runtime().engine(0).frames_accounted(&why)) << why;
}

// A steady sender that meets back-pressure only retries: nothing is lost
// and no call blocks.
TEST_P(SocketSend, SenderThatRetriesDeliversEverything) {
  LRP_REQUIRE_PRIVILEGES();
  StackBench b;
  ASSERT_EQ(open_stack(b, GetParam(), "sk-retry"), "");
  auto socket = b.stack->open_udp(bind_any(false, 7420));
  ASSERT_TRUE(socket.ok()) << socket.error().message();
  UdpSocket& s = *socket.value();
  UdpPeer peer(b.veth->client_ns, AF_INET, 7421);
  grow_receive_buffer(peer);
  const Endpoint to{address(VethBench::kClient4), 7421};
  ASSERT_TRUE(send_retrying(s, to, "first").ok());
  ASSERT_EQ(drain(peer, 1), 1u);
  const std::string payload(200, 'x');
  std::vector<OutDatagram> batch(32, OutDatagram{to, bytes(payload), std::nullopt});
  constexpr size_t kTotal = 3000;
  size_t sent = 0;
  for (int attempts = 0; sent < kTotal && attempts < 100000; ++attempts) {
    const size_t want = std::min(batch.size(), kTotal - sent);
    auto r = s.send_batch(std::span<const OutDatagram>(batch.data(), want));
    if (r.ok()) {
      sent += r.value();
    } else {
      ASSERT_EQ(r.error().code, EAGAIN) << r.error().message();
    }
  }
  ASSERT_EQ(sent, kTotal);
  EXPECT_EQ(drain(peer, kTotal), kTotal);
}

INSTANTIATE_TEST_SUITE_P(All, SocketSend,
                         ::testing::Values(Threading::RunToCompletion, Threading::Dedicated),
                         [](const ::testing::TestParamInfo<Threading>& info) {
                           return std::string(sched::to_string(info.param));
                         });

}  // namespace
}  // namespace lrp::sockets::test
