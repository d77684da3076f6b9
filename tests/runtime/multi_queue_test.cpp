// The runtime on multi-queue veth pairs: every receive queue is served, an
// application's receive gathers from all of them, and replies leave on the
// queue their request came in on. Traffic comes from both CPUs and many
// source ports, so the sender's transmit queue (and with it the server's
// receive queue) differs from flow to flow, as RSS spreads flows on a NIC.
#include <gtest/gtest.h>
#include <sched.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "runtime/interface_runtime.h"
#include "tests/support/netns.h"
#include "tests/support/privileges.h"
#include "tests/support/udp_peer.h"

namespace lrp::runtime {
namespace {

using test::NetnsGuard;
using test::UdpPeer;
using test::VethBench;
using Clock = std::chrono::steady_clock;

constexpr uint16_t kPort = 7700;
constexpr int kSendersPerCpu = 16;
constexpr int kPerSender = 40;

void pin(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  (void)sched_setaffinity(0, sizeof(set), &set);
}

// Replies to every datagram from the socket and queue it arrived on.
void echo_loop(InterfaceRuntime& r, AppRef app, const std::atomic<bool>& running) {
  Datagram batch[64];
  while (running.load()) {
    const size_t n = r.receive(app, batch, 20);
    for (size_t i = 0; i < n; ++i) {
      const Datagram& d = batch[i];
      Engine* e = r.engine_of_queue(d.queue);
      ASSERT_NE(e, nullptr);
      const IpAddress from = d.view.destination.addr;
      Status st = e->send(d.slot, d.view.source, d.view.payload, &from);
      if (!st.ok()) {
        (void)e->flush(d.slot);
        (void)e->send(d.slot, d.view.source, d.view.payload, &from);
      }
      (void)e->flush(d.slot);
    }
    r.done(std::span<const Datagram>(batch, n));
  }
}

// Sends kPerSender datagrams from each of its senders (paced, so no queue
// overflows) and counts the echoes that come back.
size_t client_side(const VethBench& bench, int cpu, bool v6) {
  pin(cpu);
  std::vector<std::unique_ptr<UdpPeer>> peers;
  for (int i = 0; i < kSendersPerCpu; ++i)
    peers.push_back(std::make_unique<UdpPeer>(bench.client_ns, v6 ? AF_INET6 : AF_INET));
  const std::string server = v6 ? VethBench::kServer6 : VethBench::kServer4;
  size_t echoed = 0;
  for (int round = 0; round < kPerSender; ++round) {
    std::string payload = "q";
    payload += std::to_string(cpu);
    payload += '-';
    payload += std::to_string(round);
    for (auto& p : peers) EXPECT_TRUE(p->send_to(server, kPort, payload));
    for (auto& p : peers) {
      std::string got;
      if (p->receive(&got, 2000)) ++echoed;
    }
  }
  return echoed;
}

using Params = std::tuple<unsigned, sched::Threading, bool>;

class RuntimeMultiQueue : public ::testing::TestWithParam<Params> {};

TEST_P(RuntimeMultiQueue, EveryQueueDeliversAndNothingIsLost) {
  LRP_REQUIRE_PRIVILEGES();
  const auto [queues, threading, v6] = GetParam();
  VethBench bench("mq", queues);
  ASSERT_TRUE(bench.ok);
  NetnsGuard guard(bench.server_ns);
  ASSERT_TRUE(guard.ok());
  RuntimeConfig config;
  config.interface.ifname = bench.server_if;
  config.scheduler.threading = threading;
  auto opened = InterfaceRuntime::open(config);
  ASSERT_TRUE(opened.ok()) << opened.error().message();
  InterfaceRuntime& r = *opened.value();
  ASSERT_EQ(r.queue_count(), queues);
  auto app = r.add_app({.name = "echo", .weight = 1, .queue_bound = 1024, .held_cap = 512});
  ASSERT_TRUE(app.ok()) << app.error().message();
  BindSpec bind;
  bind.local = v6 ? IpAddress::any_v6() : IpAddress::any_v4();
  bind.port = kPort;
  auto slot = r.add_socket(app.value(), bind);
  ASSERT_TRUE(slot.ok()) << slot.error().message();
  ASSERT_TRUE(r.start().ok());
  std::atomic<bool> running{true};
  std::thread server([&] { echo_loop(r, app.value(), running); });

  size_t echoed[2] = {0, 0};
  // A structured binding is captured by copy: clang before 16 cannot capture it.
  std::thread c0([&, ipv6 = v6] { echoed[0] = client_side(bench, 0, ipv6); });
  std::thread c1([&, ipv6 = v6] { echoed[1] = client_side(bench, 1, ipv6); });
  c0.join();
  c1.join();
  running = false;
  server.join();

  const size_t sent = 2 * kSendersPerCpu * kPerSender;
  EXPECT_EQ(echoed[0] + echoed[1], sent) << "datagrams lost on the way through lrp";
  size_t delivered = 0;
  for (size_t i = 0; i < r.queue_count(); ++i) {
    const uint64_t n = r.engine(i).counters(slot.value()).delivered.load();
    EXPECT_GT(n, 0u) << "queue " << r.engine(i).queue() << " delivered nothing";
    delivered += n;
  }
  EXPECT_EQ(delivered, sent);
  auto g = r.interface().program().global_counters();
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->at(LRP_G_PASS_SLOT_EMPTY), 0u) << "a queue had no socket for the flow";
  r.stop();
  std::string why;
  for (size_t i = 0; i < r.queue_count(); ++i)
    EXPECT_TRUE(r.engine(i).frames_accounted(&why)) << "queue " << i << ": " << why;
}

std::string name(const ::testing::TestParamInfo<Params>& info) {
  const auto [queues, threading, v6] = info.param;
  return std::to_string(queues) + "queues_" + sched::to_string(threading) + (v6 ? "_v6" : "_v4");
}

INSTANTIATE_TEST_SUITE_P(Queues, RuntimeMultiQueue,
                         ::testing::Combine(::testing::Values(2u, 4u),
                                            ::testing::Values(sched::Threading::RunToCompletion,
                                                              sched::Threading::Dedicated),
                                            ::testing::Bool()),
                         name);

}  // namespace
}  // namespace lrp::runtime
