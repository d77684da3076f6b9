// Every kind of the malformed-frame catalogue, sent over veth from a raw
// socket in the peer namespace into a running lrp server (engine, scheduler
// on its own thread, an application reading), interleaved with valid
// datagrams from a kernel socket. Each kind must be accounted under its own
// reason, nothing may crash, and every valid datagram must be delivered.
#include <gtest/gtest.h>
#include <linux/if_xdp.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <thread>

#include "lrp/interface.h"
#include "lrp/netdev.h"
#include "sched/runtime/scheduler.h"
#include "tests/reliability/malformed_frames.h"
#include "tests/reliability/raw_sender.h"
#include "tests/support/netns.h"
#include "tests/support/privileges.h"
#include "tests/support/scheduled_socket.h"
#include "tests/support/udp_peer.h"

namespace lrp::test {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr size_t kCopies = 4;  // of each kind

// What the server has counted, summed over the application's sockets.
struct Snapshot {
  GlobalCounters xdp;
  std::array<uint64_t, static_cast<size_t>(DropReason::Count)> invalid{};
  uint64_t xsk_rx_dropped = 0;
  int64_t link_dropped = 0;   // the server's veth end counted a receive drop
  uint64_t link_refused = 0;  // and the sender was told (ENOBUFS)
};

class MalformedLive : public ::testing::Test {
 protected:
  void SetUp() override {
    LRP_REQUIRE_PRIVILEGES();
    bench_ = std::make_unique<VethBench>("mal");
    ASSERT_TRUE(bench_->ok);
    // Room for a frame larger than a UMEM frame, and a peer that can send
    // one larger than the server's MTU (veth refuses native XDP when the
    // peer's MTU is above about 3500).
    ASSERT_EQ(run("ip -n " + bench_->server_ns + " link set " + bench_->server_if + " mtu " +
                  std::to_string(target_.server_mtu)),
              0);
    ASSERT_EQ(run("ip -n " + bench_->client_ns + " link set " + bench_->client_if + " mtu 3400"),
              0);
    guard_ = std::make_unique<NetnsGuard>(bench_->server_ns);
    ASSERT_TRUE(guard_->ok());
    auto info = query_interface(bench_->server_if);
    ASSERT_TRUE(info.ok()) << info.error().message();
    target_.server_mac = info->mac;
    InterfaceConfig config;
    config.ifname = bench_->server_if;
    target_.umem_frame_size = config.engine.umem.frame_size;
    auto iface = Interface::open(config);
    ASSERT_TRUE(iface.ok()) << iface.error().message();
    iface_ = std::move(iface.value());
    engine_ = &iface_->engine(0);
    sched::SchedulerConfig sc;
    sc.threading = sched::Threading::Dedicated;
    scheduler_ = std::make_unique<sched::Scheduler>(*engine_, sc, clock_);
    auto app = scheduler_->add_app({.name = "victim", .weight = 1, .queue_bound = 1024});
    ASSERT_TRUE(app.ok());
    app_ = app.value();
    for (bool v6 : {false, true}) {
      BindSpec bind;
      bind.local = v6 ? IpAddress::any_v6() : IpAddress::any_v4();
      bind.port = target_.port;
      auto slot = test::open_scheduled(*iface_, *scheduler_, app_, bind);
      ASSERT_TRUE(slot.ok()) << slot.error().message();
      slots_.push_back(slot.value());
    }
    ASSERT_TRUE(scheduler_->start().ok());
    reader_ = std::thread([this] { read_loop(); });
  }

  void TearDown() override {
    reading_ = false;
    if (reader_.joinable()) reader_.join();
    if (scheduler_) scheduler_->stop();
    scheduler_.reset();
    iface_.reset();
    guard_.reset();
    bench_.reset();
  }

  void read_loop() {
    Datagram batch[64];
    while (reading_) {
      const size_t n = scheduler_->receive(app_, batch, 20);
      std::lock_guard lock(mutex_);
      for (size_t i = 0; i < n; ++i) {
        const auto& p = batch[i].view.payload;
        std::string text(p.begin(), p.end());
        // Catalogue payloads may be followed by filler: key on the marker.
        const size_t end = text.find('\xab');
        received_[text.substr(0, std::min(end, text.size()))]++;
      }
      scheduler_->done(std::span<const Datagram>(batch, n));
    }
  }

  size_t received(const std::string& key) {
    std::lock_guard lock(mutex_);
    auto it = received_.find(key);
    return it == received_.end() ? 0 : it->second;
  }

  Snapshot snapshot() {
    Snapshot s;
    auto xdp = iface_->program().global_counters();
    EXPECT_TRUE(xdp.ok());
    if (xdp.ok()) s.xdp = xdp.value();
    for (SlotId slot : slots_) {
      const SocketCounters& c = engine_->counters(slot);
      for (size_t r = 0; r < s.invalid.size(); ++r) s.invalid[r] += c.invalid[r].load();
      auto k = engine_->kernel_stats(slot);
      if (k.ok()) s.xsk_rx_dropped += k->rx_dropped;
    }
    s.link_dropped = link_statistic(bench_->server_ns, bench_->server_if, "rx_dropped");
    s.link_refused = raw_ != nullptr ? raw_->device_drops() : 0;
    return s;
  }

  // Whether kind k has been accounted kCopies times between before and now.
  bool accounted(const MalformedKind& k, const Snapshot& before, const Snapshot& now,
                 std::string* what) {
    switch (k.outcome) {
      case Outcome::XdpPass: {
        const uint64_t d = now.xdp.at(k.xdp) - before.xdp.at(k.xdp);
        *what = "XDP counter " + std::to_string(k.xdp) + " moved by " + std::to_string(d);
        return k.noisy ? d >= kCopies : d == kCopies;
      }
      case Outcome::UserDrop: {
        const size_t r = static_cast<size_t>(k.drop);
        const uint64_t d = now.invalid[r] - before.invalid[r];
        *what = std::string("drop reason ") + to_string(k.drop) + " moved by " + std::to_string(d);
        return d == kCopies;
      }
      case Outcome::Delivered: {
        const size_t n = received(marker(k.name));
        *what = "delivered " + std::to_string(n);
        return n == kCopies;
      }
      case Outcome::XskTooLarge: {
        const uint64_t d = now.xsk_rx_dropped - before.xsk_rx_dropped;
        *what = "XDP_STATISTICS rx_dropped moved by " + std::to_string(d);
        return d == kCopies;
      }
      case Outcome::LinkTooLarge: {
        const int64_t d = now.link_dropped - before.link_dropped;
        const uint64_t refused = now.link_refused - before.link_refused;
        *what = "veth receive drops moved by " + std::to_string(d) + ", sender refusals by " +
                std::to_string(refused);
        return d == static_cast<int64_t>(kCopies) && refused == kCopies;
      }
    }
    return false;
  }

  CatalogueTarget target_;
  RawSender* raw_ = nullptr;
  std::unique_ptr<VethBench> bench_;
  std::unique_ptr<NetnsGuard> guard_;
  std::unique_ptr<Interface> iface_;
  Engine* engine_ = nullptr;
  sched::MonotonicClock clock_;
  std::unique_ptr<sched::Scheduler> scheduler_;
  sched::AppId app_ = 0;
  std::vector<SlotId> slots_;
  std::thread reader_;
  std::atomic<bool> reading_{true};
  std::mutex mutex_;
  std::map<std::string, size_t> received_;
};

TEST_F(MalformedLive, EveryKindIsAccountedAndValidTrafficIsDelivered) {
  RawSender raw(bench_->client_ns, bench_->client_if);
  ASSERT_TRUE(raw.ok()) << raw.error();
  raw_ = &raw;
  UdpPeer valid4(bench_->client_ns, AF_INET);
  UdpPeer valid6(bench_->client_ns, AF_INET6);
  ASSERT_TRUE(valid4.ok() && valid6.ok());
  // Neighbour entries first, so the kernel's own traffic settles.
  ASSERT_TRUE(valid4.send_to(VethBench::kServer4, target_.port, "valid"));
  ASSERT_TRUE(valid6.send_to(VethBench::kServer6, target_.port, "valid"));
  size_t valid_sent = 2;

  const auto kinds = malformed_catalogue(target_);
  ASSERT_GE(kinds.size(), 30u);
  size_t checked = 0;
  for (const MalformedKind& k : kinds) {
    SCOPED_TRACE(k.name);
    const Snapshot before = snapshot();
    for (size_t i = 0; i < kCopies; ++i) {
      ASSERT_TRUE(raw.send(k.frame)) << raw.error();
      UdpPeer& valid = i % 2 == 0 ? valid4 : valid6;
      ASSERT_TRUE(valid.send_to(i % 2 == 0 ? VethBench::kServer4 : VethBench::kServer6,
                                target_.port, "valid"));
      ++valid_sent;
    }
    std::string what;
    bool ok = false;
    const auto deadline = Clock::now() + 3s;
    while (!(ok = accounted(k, before, snapshot(), &what)) && Clock::now() < deadline)
      std::this_thread::sleep_for(20ms);
    // Settle and look again: more than expected is as wrong as fewer.
    std::this_thread::sleep_for(30ms);
    ok = accounted(k, before, snapshot(), &what);
    EXPECT_TRUE(ok) << what;
    if (k.outcome != Outcome::Delivered) {
      EXPECT_EQ(received(marker(k.name)), 0u) << "a bad frame was delivered";
    }
    checked += ok;
  }
  const auto deadline = Clock::now() + 3s;
  while (received("valid") < valid_sent && Clock::now() < deadline)
    std::this_thread::sleep_for(20ms);
  EXPECT_EQ(received("valid"), valid_sent) << "valid datagrams lost among bad ones";
  EXPECT_EQ(checked, kinds.size());

  reading_ = false;
  reader_.join();
  scheduler_->stop();
  std::string why;
  EXPECT_TRUE(engine_->frames_accounted(&why)) << why;
  EXPECT_EQ(engine_->frames().violations(), 0u);
}

}  // namespace
}  // namespace lrp::test
