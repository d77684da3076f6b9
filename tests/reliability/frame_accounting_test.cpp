// A million datagrams into a running server while its applications misbehave:
// one reads steadily, one stalls in long pauses (its RX ring overflows and
// the scheduler sheds it at XDP), and short-lived ones come and go while
// holding frames. Afterwards every frame of the UMEM is in exactly one place.
// Also: an application that stops reading costs only itself, and one that
// leaves while holding frames gives them all back.
#include <gtest/gtest.h>
#include <linux/if_xdp.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "lrp/interface.h"
#include "sched/runtime/scheduler.h"
#include "tests/support/netns.h"
#include "tests/support/privileges.h"
#include "tests/support/scheduled_socket.h"
#include "tests/support/udp_peer.h"

namespace lrp::test {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
using sched::AppId;
using sched::Scheduler;

constexpr uint16_t kSteadyPort = 7600;
constexpr uint16_t kStallPort = 7601;
constexpr uint16_t kChurnPort = 7602;

struct Server {
  std::unique_ptr<VethBench> bench;
  std::unique_ptr<NetnsGuard> guard;
  std::unique_ptr<Interface> iface;
  Engine* engine = nullptr;
  sched::MonotonicClock clock;
  std::unique_ptr<Scheduler> scheduler;
};

void open_server(Server& s, const char* tag, const sched::SchedulerConfig& config) {
  s.bench = std::make_unique<VethBench>(tag);
  ASSERT_TRUE(s.bench->ok);
  s.guard = std::make_unique<NetnsGuard>(s.bench->server_ns);
  ASSERT_TRUE(s.guard->ok());
  InterfaceConfig ic;
  ic.ifname = s.bench->server_if;
  auto iface = Interface::open(ic);
  ASSERT_TRUE(iface.ok()) << iface.error().message();
  s.iface = std::move(iface.value());
  s.engine = &s.iface->engine(0);
  s.scheduler = std::make_unique<Scheduler>(*s.engine, config, s.clock);
}

AppId add_app(Server& server, const std::string& name, uint16_t port, uint32_t bound = 512) {
  Scheduler& s = *server.scheduler;
  auto app = s.add_app({.name = name, .weight = 1, .queue_bound = bound, .held_cap = 256});
  EXPECT_TRUE(app.ok()) << app.error().message();
  BindSpec bind;
  bind.port = port;
  auto slot = test::open_scheduled(*server.iface, s, app.value(), bind,
                                   SocketOptions{.held_cap = 256, .tx_cap = 256});
  EXPECT_TRUE(slot.ok()) << slot.error().message();
  return app.value();
}

uint64_t rx_ring_full(Engine& e, SlotId slot) {
  auto k = e.kernel_stats(slot);
  return k.ok() ? k->rx_ring_full : 0;
}

TEST(FrameAccounting, EveryFrameInOnePlaceAfterAMillionDatagramsWithStallsAndChurn) {
  LRP_REQUIRE_PRIVILEGES();
  sched::SchedulerConfig config;
  config.threading = sched::Threading::Dedicated;
  config.shed.raise_after = 5'000'000;  // 5 ms full: shed early, so it happens often
  Server s;
  ASSERT_NO_FATAL_FAILURE(open_server(s, "acc", config));
  Scheduler& sched = *s.scheduler;
  const AppId steady = add_app(s, "steady", kSteadyPort);
  const AppId staller = add_app(s, "staller", kStallPort, 128);
  const SlotId stall_slot = sched.apps()[1].slots[0];
  ASSERT_TRUE(sched.start().ok());

  std::atomic<bool> running{true};
  std::atomic<uint64_t> steady_got{0}, stall_got{0}, churned{0}, churn_held{0};
  std::vector<std::thread> threads;
  threads.emplace_back([&] {
    Datagram d[64];
    while (running) {
      const size_t n = sched.receive(steady, d, 10);
      steady_got += n;
      sched.done(std::span<const Datagram>(d, n));
    }
  });
  threads.emplace_back([&] {
    Datagram d[64];
    while (running) {
      // Read for a while, then stop reading for longer.
      for (auto until = Clock::now() + 20ms; running && Clock::now() < until;) {
        const size_t n = sched.receive(staller, d, 5);
        stall_got += n;
        sched.done(std::span<const Datagram>(d, n));
      }
      std::this_thread::sleep_for(60ms);
    }
  });
  threads.emplace_back([&] {
    // Applications join, take a few datagrams, and leave without giving them back.
    Datagram d[32];
    while (running) {
      const AppId app = add_app(s, "churn", kChurnPort);
      size_t held = 0;
      for (auto until = Clock::now() + 30ms; held < 32 && Clock::now() < until;)
        held += sched.receive(app, {d + held, 32 - held}, 5);
      churn_held += held;
      EXPECT_TRUE(test::remove_scheduled_app(*s.iface, sched, app).ok());
      ++churned;
    }
  });

  // The load: a million datagrams from kernel sockets in the peer namespace.
  constexpr uint64_t kTotal = 1'000'000;
  std::atomic<uint64_t> sent{0};
  std::vector<std::thread> senders;
  for (uint16_t port : {kSteadyPort, kStallPort, kChurnPort}) {
    senders.emplace_back([&, port] {
      UdpPeer peer(s.bench->client_ns, AF_INET);
      const auto deadline = Clock::now() + 40s;
      while (sent < kTotal && Clock::now() < deadline)
        sent += peer.send_many(VethBench::kServer4, port, 512, 18);
    });
  }
  for (auto& t : senders) t.join();
  std::this_thread::sleep_for(200ms);  // let the rings drain into the applications
  // A buffer the kernel took from the fill ring for a receive that then found
  // the RX ring full stays in the kernel's own free list (in no ring) until
  // its next receive, which uses it first. A few datagrams to a reader with
  // room bring such buffers back, so the count below is exact.
  {
    UdpPeer last(s.bench->client_ns, AF_INET);
    const uint64_t before = steady_got;
    last.send_many(VethBench::kServer4, kSteadyPort, 64, 18);
    for (auto until = Clock::now() + 2s; steady_got < before + 64 && Clock::now() < until;)
      std::this_thread::sleep_for(5ms);
  }
  running = false;
  for (auto& t : threads) t.join();

  EXPECT_GE(sent.load(), kTotal);
  EXPECT_GT(steady_got.load(), 0u);
  EXPECT_GT(stall_got.load(), 0u);
  EXPECT_GE(churned.load(), 10u);
  EXPECT_GT(churn_held.load(), 0u) << "no application left while holding frames";
  EXPECT_GT(rx_ring_full(*s.engine, stall_slot), 0u) << "the stalled ring never overflowed";
  EXPECT_GE(sched.app_counters(staller).shed_raised.load(), 1u) << "never shed at XDP";
  auto xdp = s.iface->program().global_counters();
  ASSERT_TRUE(xdp.ok());
  // Most of it, not all: a veth drops what it cannot queue before XDP sees
  // it when the machine is busy with other work.
  EXPECT_GE(xdp->at(LRP_G_SEEN), kTotal / 2) << "the load did not reach XDP";

  // Quiet: everything still queued for the applications goes back with them.
  sched.stop();
  std::string why;
  EXPECT_TRUE(s.engine->frames_accounted(&why)) << why;
  EXPECT_TRUE(test::remove_scheduled_app(*s.iface, sched, steady).ok());
  EXPECT_TRUE(test::remove_scheduled_app(*s.iface, sched, staller).ok());
  EXPECT_TRUE(s.engine->frames_accounted(&why)) << why;
  const FrameCounts c = s.engine->frames().counts();
  EXPECT_EQ(c.at(FramePlace::Held), 0u);
  EXPECT_EQ(c.at(FramePlace::KernelTx), 0u);
  EXPECT_EQ(c.at(FramePlace::Free) + c.at(FramePlace::KernelRx), c.total);
  EXPECT_EQ(s.engine->frames().violations(), 0u);
  std::printf(
      "sent %llu, steady %llu, stalled %llu, churn apps %llu holding %llu, ring full %llu\n",
      static_cast<unsigned long long>(sent.load()),
      static_cast<unsigned long long>(steady_got.load()),
      static_cast<unsigned long long>(stall_got.load()),
      static_cast<unsigned long long>(churned.load()),
      static_cast<unsigned long long>(churn_held.load()),
      static_cast<unsigned long long>(rx_ring_full(*s.engine, stall_slot)));
}

TEST(FrameAccounting, ApplicationThatStopsReadingDropsOnlyItsOwnDatagrams) {
  LRP_REQUIRE_PRIVILEGES();
  sched::SchedulerConfig config;
  config.threading = sched::Threading::Dedicated;
  Server s;
  ASSERT_NO_FATAL_FAILURE(open_server(s, "stp", config));
  Scheduler& sched = *s.scheduler;
  const AppId reader = add_app(s, "reader", kSteadyPort, 4096);
  const AppId stopped = add_app(s, "stopped", kStallPort, 64);
  const SlotId reader_slot = sched.apps()[0].slots[0];
  const SlotId stopped_slot = sched.apps()[1].slots[0];
  ASSERT_TRUE(sched.start().ok());
  std::atomic<bool> running{true};
  std::atomic<uint64_t> got{0};
  std::thread t([&] {
    Datagram d[64];
    while (running) {
      const size_t n = sched.receive(reader, d, 10);
      got += n;
      sched.done(std::span<const Datagram>(d, n));
    }
  });
  UdpPeer peer(s.bench->client_ns, AF_INET);
  // The stopped application's port is flooded; the reader's gets a paced stream.
  uint64_t to_reader = 0;
  for (int round = 0; round < 40; ++round) {
    peer.send_many(VethBench::kServer4, kStallPort, 1000, 18);
    to_reader += peer.send_many(VethBench::kServer4, kSteadyPort, 50, 18);
    std::this_thread::sleep_for(2ms);
  }
  for (auto until = Clock::now() + 3s; got < to_reader && Clock::now() < until;)
    std::this_thread::sleep_for(10ms);
  running = false;
  t.join();
  EXPECT_EQ(got.load(), to_reader) << "the reader lost datagrams to its neighbour's flood";
  EXPECT_EQ(rx_ring_full(*s.engine, reader_slot), 0u);
  auto shed = s.iface->program().slot_counters(reader_slot);
  ASSERT_TRUE(shed.ok());
  EXPECT_EQ(shed->at(LRP_SLOT_SHED), 0u);
  // The stopped one dropped, at its own ring or at XDP.
  auto stopped_xdp = s.iface->program().slot_counters(stopped_slot);
  ASSERT_TRUE(stopped_xdp.ok());
  EXPECT_GT(rx_ring_full(*s.engine, stopped_slot) + stopped_xdp->at(LRP_SLOT_SHED), 0u);
  EXPECT_EQ(sched.app_counters(stopped).delivered.load(), sched.queued(stopped));
  sched.stop();
}

TEST(FrameAccounting, ApplicationLeavingWhileHoldingFramesGivesThemBack) {
  LRP_REQUIRE_PRIVILEGES();
  sched::SchedulerConfig config;
  config.threading = sched::Threading::Dedicated;
  Server s;
  ASSERT_NO_FATAL_FAILURE(open_server(s, "hld", config));
  Scheduler& sched = *s.scheduler;
  const AppId app = add_app(s, "leaver", kSteadyPort, 256);
  ASSERT_TRUE(sched.start().ok());
  UdpPeer peer(s.bench->client_ns, AF_INET);
  peer.send_many(VethBench::kServer4, kSteadyPort, 200, 18);
  // It takes some (held by it), and leaves the rest queued (held for it).
  Datagram d[64];
  size_t held = 0;
  for (auto until = Clock::now() + 2s; held < 64 && Clock::now() < until;)
    held += sched.receive(app, {d + held, 64 - held}, 10);
  ASSERT_EQ(held, 64u);
  for (auto until = Clock::now() + 2s; sched.queued(app) < 100 && Clock::now() < until;)
    std::this_thread::sleep_for(10ms);
  EXPECT_GE(s.engine->frames().counts().at(FramePlace::Held), 64u + 100u);
  ASSERT_TRUE(test::remove_scheduled_app(*s.iface, sched, app).ok());
  EXPECT_EQ(s.engine->frames().counts().at(FramePlace::Held), 0u);
  sched.stop();
  std::string why;
  EXPECT_TRUE(s.engine->frames_accounted(&why)) << why;
  EXPECT_EQ(s.engine->frames().violations(), 0u);
}

}  // namespace
}  // namespace lrp::test
