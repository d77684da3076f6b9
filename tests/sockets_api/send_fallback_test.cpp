// What lrp cannot send, the socket's kernel socket sends: a destination
// that is this host or lies behind another interface (the engine says
// EXDEV), and a datagram above the path MTU (EMSGSIZE; the kernel
// fragments it). In a batch, those go through the kernel in their place and
// the rest through lrp.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "sockets/api/lrp_sockets.h"
#include "tests/sockets_api/stack_bench.h"
#include "tests/support/privileges.h"
#include "tests/support/udp_peer.h"

namespace lrp::sockets::test {
namespace {

using lrp::test::UdpPeer;
using lrp::test::VethBench;

TEST(SendFallback, WhatLrpCannotSendGoesThroughTheKernelSocket) {
  LRP_REQUIRE_PRIVILEGES();
  StackBench b;
  ASSERT_EQ(open_stack(b, sched::Threading::RunToCompletion, "sk-fb"), "");
  auto socket = b.stack->open_udp(bind_any(false, 7420));
  ASSERT_TRUE(socket.ok()) << socket.error().message();
  UdpSocket& s = *socket.value();
  UdpPeer here(b.veth->server_ns, AF_INET, 7421);  // a kernel socket on this host
  UdpPeer peer(b.veth->client_ns, AF_INET, 7422);
  ASSERT_TRUE(here.ok() && peer.ok());
  const Endpoint self{address(VethBench::kServer4), 7421};
  const Endpoint client{address(VethBench::kClient4), 7422};
  ASSERT_TRUE(send_retrying(s, client, "warm").ok());
  std::string got, from;
  uint16_t from_port = 0;
  ASSERT_TRUE(peer.receive(&got, 2000));

  // This host: through the kernel, from the socket's port.
  ASSERT_TRUE(s.send_to(self, bytes("to-self")).ok());
  ASSERT_TRUE(here.receive(&got, 2000, &from, &from_port)) << "nothing reached this host";
  EXPECT_EQ(got, "to-self");
  EXPECT_EQ(from_port, 7420);
  const uint64_t sent_by_lrp = s.counters().sent;

  // Above the MTU of 1500: the kernel fragments, the peer reassembles.
  const std::string big(3000, 'b');
  ASSERT_TRUE(s.send_to(client, bytes(big)).ok());
  ASSERT_TRUE(peer.receive(&got, 2000)) << "the large datagram did not arrive";
  EXPECT_EQ(got, big);
  EXPECT_EQ(s.counters().sent, sent_by_lrp) << "lrp emitted a frame above the MTU";

  // A batch: lrp, kernel, lrp, kernel (too large), lrp.
  const std::string a = "a", b_payload = "b", c = "c", e = "e";
  const OutDatagram batch[] = {{client, bytes(a), std::nullopt},
                               {self, bytes(b_payload), std::nullopt},
                               {client, bytes(c), std::nullopt},
                               {client, bytes(big), std::nullopt},
                               {client, bytes(e), std::nullopt}};
  auto r = s.send_batch(batch);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r.value(), 5u);
  ASSERT_TRUE(here.receive(&got, 2000));
  EXPECT_EQ(got, "b");
  std::multiset<std::string> at_peer;
  for (int i = 0; i < 4 && peer.receive(&got, 2000); ++i) at_peer.insert(got);
  EXPECT_EQ(at_peer, (std::multiset<std::string>{a, c, e, big}));
  EXPECT_EQ(s.counters().sent, sent_by_lrp + 3);
}

}  // namespace
}  // namespace lrp::sockets::test
