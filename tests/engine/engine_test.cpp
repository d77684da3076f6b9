// The interface and its queue's engine on a real veth pair: demultiplexing
// into per-socket AF_XDP queues, UDP receive and send, tail drop, frame
// accounting, teardown.
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <gtest/gtest.h>
#include <linux/if_link.h>
#include <linux/if_xdp.h>
#include <net/if.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <set>
#include <string>
#include <thread>

#include "lrp/interface.h"
#include "lrp_xdp.skel.h"
#include "tests/support/netns.h"
#include "tests/support/privileges.h"
#include "tests/support/udp_peer.h"

namespace lrp {
namespace {

using test::NetnsGuard;
using test::UdpPeer;
using test::VethBench;
using Clock = std::chrono::steady_clock;

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    LRP_REQUIRE_PRIVILEGES();
    bench_ = std::make_unique<VethBench>("eng");
    ASSERT_TRUE(bench_->ok) << "could not build the veth bench";
    guard_ = std::make_unique<NetnsGuard>(bench_->server_ns);
    ASSERT_TRUE(guard_->ok());
    InterfaceConfig config;
    config.ifname = bench_->server_if;
    auto iface = Interface::open(config);
    ASSERT_TRUE(iface.ok()) << iface.error().message();
    iface_ = std::move(iface.value());
    engine_ = &iface_->engine(0);
  }
  void TearDown() override {
    iface_.reset();
    guard_.reset();
    bench_.reset();
  }

  SlotId bind_any(uint16_t port, bool v6 = false, SocketOptions options = {}) {
    BindSpec spec;
    spec.local = v6 ? IpAddress::any_v6() : IpAddress::any_v4();
    spec.port = port;
    auto slot = iface_->open_socket(spec, options);
    EXPECT_TRUE(slot.ok()) << slot.error().message();
    return slot.ok() ? slot.value() : SlotId{0};
  }

  // Runs protocol work on one socket until `want` datagrams arrived or time ran out.
  std::vector<std::pair<std::string, Endpoint>> receive(SlotId slot, size_t want,
                                                        int timeout_ms = 3000) {
    std::vector<std::pair<std::string, Endpoint>> got;
    Datagram batch[64];
    const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    while (got.size() < want && Clock::now() < deadline) {
      ProcessResult r = engine_->process(slot, batch);
      for (size_t i = 0; i < r.delivered; ++i) {
        const auto& v = batch[i].view;
        got.emplace_back(std::string(v.payload.begin(), v.payload.end()), v.source);
        engine_->release(batch[i]);
      }
      if (r.taken == 0) std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    return got;
  }

  std::unique_ptr<VethBench> bench_;
  std::unique_ptr<NetnsGuard> guard_;
  std::unique_ptr<Interface> iface_;
  Engine* engine_ = nullptr;  // the bench's one queue
};

TEST_F(EngineTest, ReceivesExactPayloadsWithSourceIpv4) {
  SlotId slot = bind_any(7001);
  UdpPeer client(bench_->client_ns, AF_INET);
  ASSERT_TRUE(client.ok());
  for (int i = 0; i < 20; ++i)
    ASSERT_TRUE(client.send_to(VethBench::kServer4, 7001, "hello-" + std::to_string(i)));
  auto got = receive(slot, 20);
  ASSERT_EQ(got.size(), 20u);
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(got[i].first, "hello-" + std::to_string(i));
    EXPECT_EQ(got[i].second.addr.to_string(), VethBench::kClient4);
    EXPECT_EQ(got[i].second.port, client.port());
  }
}

TEST_F(EngineTest, ReceivesExactPayloadsWithSourceIpv6) {
  SlotId slot = bind_any(7002, /*v6=*/true);
  UdpPeer client(bench_->client_ns, AF_INET6);
  ASSERT_TRUE(client.ok());
  for (int i = 0; i < 20; ++i)
    ASSERT_TRUE(client.send_to(VethBench::kServer6, 7002, "six-" + std::to_string(i)));
  auto got = receive(slot, 20);
  ASSERT_EQ(got.size(), 20u);
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(got[i].first, "six-" + std::to_string(i));
    EXPECT_EQ(got[i].second.addr.to_string(), VethBench::kClient6);
    EXPECT_EQ(got[i].second.port, client.port());
  }
}

TEST_F(EngineTest, EchoRoundTripsIpv4AndIpv6) {
  for (bool v6 : {false, true}) {
    SlotId slot = bind_any(v6 ? 7004 : 7003, v6);
    UdpPeer client(bench_->client_ns, v6 ? AF_INET6 : AF_INET);
    const std::string server = v6 ? VethBench::kServer6 : VethBench::kServer4;
    for (int i = 0; i < 10; ++i) {
      const std::string text = "ping-" + std::to_string(i);
      ASSERT_TRUE(client.send_to(server, v6 ? 7004 : 7003, text));
      Datagram d[1];
      ProcessResult r{};
      const auto deadline = Clock::now() + std::chrono::seconds(3);
      while (r.delivered == 0 && Clock::now() < deadline) r = engine_->process(slot, d);
      ASSERT_EQ(r.delivered, 1u);
      const IpAddress to_me = d[0].view.destination.addr;
      Status st = Status{};
      // Neighbour resolution may need a moment the first time.
      for (int attempt = 0; attempt < 100; ++attempt) {
        st = engine_->send(slot, d[0].view.source, d[0].view.payload, &to_me);
        if (st.ok() || st.error().code != EAGAIN) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      ASSERT_TRUE(st.ok()) << st.error().message();
      engine_->release(d[0]);
      ASSERT_TRUE(engine_->flush(slot).ok());
      std::string reply, from;
      uint16_t from_port = 0;
      ASSERT_TRUE(client.receive(&reply, 2000, &from, &from_port)) << "no echo for " << text;
      EXPECT_EQ(reply, text);
      EXPECT_EQ(from, server);
      EXPECT_EQ(from_port, v6 ? 7004 : 7003);
    }
    std::string why;
    EXPECT_TRUE(engine_->frames_accounted(&why)) << why;
  }
}

TEST_F(EngineTest, EachSocketReceivesOnlyItsOwnPort) {
  SlotId a = bind_any(7010);
  SlotId b = bind_any(7011);
  UdpPeer client(bench_->client_ns, AF_INET);
  for (int i = 0; i < 30; ++i) {
    const std::string n = std::to_string(i);
    ASSERT_TRUE(client.send_to(VethBench::kServer4, 7010, std::string("a").append(n)));
    ASSERT_TRUE(client.send_to(VethBench::kServer4, 7011, std::string("b").append(n)));
  }
  auto got_a = receive(a, 30);
  auto got_b = receive(b, 30);
  ASSERT_EQ(got_a.size(), 30u);
  ASSERT_EQ(got_b.size(), 30u);
  for (auto& [payload, from] : got_a) EXPECT_EQ(payload[0], 'a');
  for (auto& [payload, from] : got_b) EXPECT_EQ(payload[0], 'b');
  EXPECT_TRUE(receive(a, 1, 100).empty());
}

TEST_F(EngineTest, KernelKeepsUnboundPortsAndNeighbourResolution) {
  bind_any(7020);
  // A kernel socket in the server namespace on another port still receives,
  // which also needs ARP between the namespaces to work through XDP_PASS.
  UdpPeer kernel_server(bench_->server_ns, AF_INET, 7021);
  ASSERT_TRUE(kernel_server.ok());
  UdpPeer client(bench_->client_ns, AF_INET);
  ASSERT_TRUE(client.send_to(VethBench::kServer4, 7021, "to-kernel"));
  std::string got;
  ASSERT_TRUE(kernel_server.receive(&got, 2000));
  EXPECT_EQ(got, "to-kernel");
  UdpPeer kernel_server6(bench_->server_ns, AF_INET6, 7022);
  UdpPeer client6(bench_->client_ns, AF_INET6);
  ASSERT_TRUE(client6.send_to(VethBench::kServer6, 7022, "to-kernel-6"));
  ASSERT_TRUE(kernel_server6.receive(&got, 2000));
  EXPECT_EQ(got, "to-kernel-6");
  auto counters = iface_->program().global_counters();
  ASSERT_TRUE(counters.ok());
  EXPECT_GE(counters->at(LRP_G_PASS_NO_FLOW), 2u);
  EXPECT_GE(counters->at(LRP_G_PASS_NOT_IP), 1u);  // ARP
}

TEST_F(EngineTest, IdleSocketTailDropsWithoutHurtingItsNeighbour) {
  SlotId idle = bind_any(7030);
  SlotId busy = bind_any(7031);
  UdpPeer client(bench_->client_ns, AF_INET);
  const size_t flood = 3 * engine_->config().rx_size;
  // Interleave: the idle socket's ring fills and tail-drops; the busy one is
  // drained as it goes and loses nothing.
  size_t busy_got = 0;
  const size_t busy_sent = 1000;
  for (size_t round = 0; round < 10; ++round) {
    ASSERT_EQ(client.send_many(VethBench::kServer4, 7030, flood / 10, 64), flood / 10);
    ASSERT_EQ(client.send_many(VethBench::kServer4, 7031, busy_sent / 10, 64), busy_sent / 10);
    busy_got += receive(busy, busy_sent / 10).size();
  }
  busy_got += receive(busy, busy_sent - busy_got, 500).size();
  auto idle_stats = engine_->kernel_stats(idle);
  auto busy_stats = engine_->kernel_stats(busy);
  auto idle_xdp = iface_->program().slot_counters(idle);
  auto busy_xdp = iface_->program().slot_counters(busy);
  ASSERT_TRUE(idle_stats.ok() && busy_stats.ok() && idle_xdp.ok() && busy_xdp.ok());
  // Offered load is what reached XDP (veth itself may drop a few under a burst).
  const uint64_t idle_offered = idle_xdp->at(LRP_SLOT_REDIRECTED);
  EXPECT_GE(idle_offered, flood * 95 / 100);
  EXPECT_GT(idle_stats->rx_ring_full, 0u);
  // Every frame redirected to the idle socket is either still in its ring or
  // was tail-dropped there: none was processed.
  EXPECT_EQ(idle_stats->rx_ring_full + engine_->rx_pending(idle), idle_offered);
  EXPECT_EQ(engine_->counters(idle).delivered.load(), 0u);
  // The busy socket on the same queue lost nothing that reached it.
  EXPECT_EQ(busy_stats->rx_ring_full, 0u);
  EXPECT_EQ(busy_got, busy_xdp->at(LRP_SLOT_REDIRECTED));
  EXPECT_GE(busy_got, busy_sent * 95 / 100);
}

TEST_F(EngineTest, FrameInvariantHoldsAfter100kBurst) {
  SlotId a = bind_any(7040);
  SlotId b = bind_any(7041, false, SocketOptions{.held_cap = 64, .tx_cap = 256});
  UdpPeer client(bench_->client_ns, AF_INET);
  std::atomic<bool> sending{true};
  std::thread sender([&] {
    client.send_many(VethBench::kServer4, 7040, 50000, 32);
    client.send_many(VethBench::kServer4, 7041, 50000, 32);
    sending = false;
  });
  // Socket a releases at once; socket b holds up to its cap and releases in bursts.
  std::vector<Datagram> held;
  Datagram batch[64];
  size_t received = 0;
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  while ((sending || engine_->rx_pending(a) + engine_->rx_pending(b) > 0) &&
         Clock::now() < deadline) {
    ProcessResult r = engine_->process(a, batch);
    for (size_t i = 0; i < r.delivered; ++i) engine_->release(batch[i]);
    received += r.delivered;
    r = engine_->process(b, batch);
    for (size_t i = 0; i < r.delivered; ++i) held.push_back(batch[i]);
    received += r.delivered;
    if (held.size() >= 64) {
      EXPECT_EQ(engine_->frames().held_by(b), held.size());
      for (auto& d : held) engine_->release(d);
      held.clear();
    }
  }
  sender.join();
  for (auto& d : held) engine_->release(d);
  EXPECT_GT(received, 10000u);
  std::string why;
  EXPECT_TRUE(engine_->frames_accounted(&why)) << why;
  auto c = engine_->frames().counts();
  EXPECT_EQ(c.at(FramePlace::Held), 0u);
  EXPECT_EQ(c.at(FramePlace::Free) + c.at(FramePlace::KernelRx) + c.at(FramePlace::KernelTx),
            c.total);
}

TEST_F(EngineTest, PortAlreadyBoundIsAClearError) {
  bind_any(7050);
  BindSpec spec;
  spec.local = IpAddress::any_v4();
  spec.port = 7050;
  auto again = iface_->open_socket(spec, {});
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, EADDRINUSE);
  EXPECT_NE(again.error().message().find("7050"), std::string::npos) << again.error().message();
}

TEST_F(EngineTest, ClosedSocketFallsBackToKernel) {
  SlotId slot = bind_any(7060);
  ASSERT_TRUE(iface_->close_socket(slot).ok());
  UdpPeer kernel_server(bench_->server_ns, AF_INET, 7060);
  UdpPeer client(bench_->client_ns, AF_INET);
  ASSERT_TRUE(client.send_to(VethBench::kServer4, 7060, "after-close"));
  std::string got;
  ASSERT_TRUE(kernel_server.receive(&got, 2000));
  EXPECT_EQ(got, "after-close");
}

// Teardown removes the program: attach state read through ip link.
TEST(EngineTeardown, LeavesNoProgramAndNoNamespace) {
  LRP_REQUIRE_PRIVILEGES();
  std::string server_ns, client_ns, server_if;
  {
    VethBench bench("tdn");
    ASSERT_TRUE(bench.ok);
    server_ns = bench.server_ns;
    client_ns = bench.client_ns;
    server_if = bench.server_if;
    {
      NetnsGuard guard(bench.server_ns);
      InterfaceConfig config;
      config.ifname = bench.server_if;
      auto engine = Interface::open(config);
      ASSERT_TRUE(engine.ok()) << engine.error().message();
      EXPECT_EQ(test::run("ip -n " + server_ns + " link show " + server_if + " | grep -q xdp"), 0);
    }
    EXPECT_NE(test::run("ip -n " + server_ns + " link show " + server_if + " | grep -q xdp"), 0)
        << "XDP program left attached";
  }
  EXPECT_NE(test::run("ip netns list | grep -q " + server_ns), 0);
  EXPECT_NE(test::run("ip netns list | grep -q " + client_ns), 0);
}

// A crashed process that attached the old way (netlink, no link) leaves its
// program behind; the next start replaces it.
TEST(EngineStart, ReplacesAStaleLrpProgram) {
  LRP_REQUIRE_PRIVILEGES();
  VethBench bench("stl");
  ASSERT_TRUE(bench.ok);
  NetnsGuard guard(bench.server_ns);
  const int ifindex = static_cast<int>(if_nametoindex(bench.server_if.c_str()));
  {
    lrp_xdp_bpf* stale = lrp_xdp_bpf__open_and_load();
    ASSERT_NE(stale, nullptr);
    ASSERT_EQ(
        bpf_xdp_attach(ifindex, bpf_program__fd(stale->progs.lrp_xdp), XDP_FLAGS_DRV_MODE, nullptr),
        0);
    lrp_xdp_bpf__destroy(stale);  // the attachment outlives its loader
  }
  ASSERT_EQ(
      test::run("ip -n " + bench.server_ns + " link show " + bench.server_if + " | grep -q xdp"),
      0);
  {
    InterfaceConfig config;
    config.ifname = bench.server_if;
    auto engine = Interface::open(config);
    ASSERT_TRUE(engine.ok()) << engine.error().message();
    BindSpec bind;
    bind.port = 7070;
    ASSERT_TRUE(engine.value()->open_socket(bind, {}).ok());
  }
  EXPECT_NE(
      test::run("ip -n " + bench.server_ns + " link show " + bench.server_if + " | grep -q xdp"), 0)
      << "a program is still attached";
}

TEST(EngineErrors, ForeignXdpProgramIsNotTakenOver) {
  LRP_REQUIRE_PRIVILEGES();
  VethBench bench("fgn");
  ASSERT_TRUE(bench.ok);
  NetnsGuard attach_guard(bench.server_ns);
  // Somebody else's program: "return XDP_PASS", loaded under another name.
  const bpf_insn pass[] = {
      {.code = BPF_ALU64 | BPF_MOV | BPF_K,
       .dst_reg = BPF_REG_0,
       .src_reg = 0,
       .off = 0,
       .imm = XDP_PASS},
      {.code = BPF_JMP | BPF_EXIT, .dst_reg = 0, .src_reg = 0, .off = 0, .imm = 0},
  };
  const int prog = bpf_prog_load(BPF_PROG_TYPE_XDP, "foreign", "GPL", pass, 2, nullptr);
  ASSERT_GE(prog, 0);
  const int ifindex = static_cast<int>(if_nametoindex(bench.server_if.c_str()));
  ASSERT_EQ(bpf_xdp_attach(ifindex, prog, XDP_FLAGS_DRV_MODE, nullptr), 0);
  close(prog);
  NetnsGuard guard(bench.server_ns);
  InterfaceConfig config;
  config.ifname = bench.server_if;
  auto engine = Interface::open(config);
  ASSERT_FALSE(engine.ok());
  EXPECT_NE(engine.error().message().find("foreign"), std::string::npos)
      << engine.error().message();
}

TEST(EngineErrors, MissingInterfaceIsAClearError) {
  LRP_REQUIRE_PRIVILEGES();
  InterfaceConfig config;
  config.ifname = "lrp-no-such0";
  auto engine = Interface::open(config);
  ASSERT_FALSE(engine.ok());
  EXPECT_NE(engine.error().message().find("lrp-no-such0"), std::string::npos)
      << engine.error().message();
}

TEST(EngineErrors, SecondEngineOnSameInterfaceIsRefused) {
  LRP_REQUIRE_PRIVILEGES();
  VethBench bench("dup");
  ASSERT_TRUE(bench.ok);
  NetnsGuard guard(bench.server_ns);
  InterfaceConfig config;
  config.ifname = bench.server_if;
  auto first = Interface::open(config);
  ASSERT_TRUE(first.ok()) << first.error().message();
  auto second = Interface::open(config);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code, EADDRINUSE) << second.error().message();
}

TEST(EngineErrors, WithoutPrivilegesIsAClearError) {
  LRP_REQUIRE_PRIVILEGES();
  VethBench bench("prv");
  ASSERT_TRUE(bench.ok);
  // Drop root in a child and report the error text through a pipe.
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t pid = fork();
  if (pid == 0) {
    NetnsGuard guard(bench.server_ns);
    if (setgid(65534) != 0 || setuid(65534) != 0) _exit(2);
    InterfaceConfig config;
    config.ifname = bench.server_if;
    auto engine = Interface::open(config);
    std::string text = engine.ok() ? "opened" : engine.error().message();
    (void)!write(fds[1], text.data(), text.size());
    _exit(engine.ok() ? 1 : 0);
  }
  close(fds[1]);
  char buf[512] = {};
  ssize_t n = read(fds[0], buf, sizeof(buf) - 1);
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "an unprivileged engine opened";
  std::string text(buf, n > 0 ? static_cast<size_t>(n) : 0);
  EXPECT_NE(text.find("Operation not permitted"), std::string::npos) << text;
}

}  // namespace
}  // namespace lrp
