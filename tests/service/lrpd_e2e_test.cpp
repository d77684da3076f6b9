// lrpd end to end, in namespaces over veth: the daemon as a process, client
// programs attached to it, and kernel UDP peers on the other side.
#include <gtest/gtest.h>
#include <pthread.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <mutex>
#include <thread>

#include "service/client/client.h"
#include "service/shm/doorbell.h"
#include "service/wire/channel.h"
#include "tests/reliability/server_process.h"
#include "tests/service/lrpd_bench.h"
#include "tests/support/netns.h"
#include "tests/support/privileges.h"
#include "tests/support/udp_peer.h"

namespace lrp::service {
namespace {

using lrp::test::eventually;
using lrp::test::LrpdBench;
using lrp::test::NetnsGuard;
using lrp::test::ping_pong;
using lrp::test::served_by;
using lrp::test::ServerProcess;
using lrp::test::TimedRequests;
using lrp::test::UdpPeer;
using lrp::test::VethBench;
using namespace std::chrono_literals;

#define REQUIRE_BENCH(b)     \
  LRP_REQUIRE_PRIVILEGES();  \
  ASSERT_TRUE((b).bench.ok); \
  ASSERT_TRUE((b).start_lrpd()) << (b).lrpd->stderr_text()

TEST(Lrpd, RefusesWithoutPrivileges) {
  LRP_REQUIRE_PRIVILEGES();
  std::string out;
  const std::string bin = std::string(LRP_BIN_DIR) + "/lrpd";
  // setpriv drops every capability: lrpd must say which it lacks.
  const std::string cmd = "setpriv --reuid=65534 --regid=65534 --clear-groups " + bin +
                          " --iface lo --socket /tmp/lrp-noperm-" + std::to_string(getpid()) +
                          ".sock 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  char buf[512];
  while (fgets(buf, sizeof(buf), p) != nullptr) out += buf;
  const int status = pclose(p);
  EXPECT_NE(WEXITSTATUS(status), 0);
  EXPECT_NE(out.find("missing privileges"), std::string::npos) << out;
  EXPECT_NE(out.find("CAP_NET_ADMIN"), std::string::npos) << out;
}

TEST(Lrpd, TwoClientProcessesShareOneInterface) {
  LrpdBench b("two");
  REQUIRE_BENCH(b);
  auto first = b.echo({"--port", "7001", "--name", "first"});
  auto second = b.echo({"--port", "7002", "--name", "second"});
  UdpPeer peer(b.bench.client_ns, AF_INET);
  ASSERT_TRUE(peer.ok());
  EXPECT_EQ(ping_pong(peer, 7001, 200, 8), 200u);
  EXPECT_EQ(ping_pong(peer, 7002, 200, 8), 200u);
  auto apps = b.apps();
  ASSERT_EQ(apps.size(), 2u);
  for (const auto& a : apps) {
    EXPECT_GE(a.delivered, 200u) << get_name(a.name, sizeof(a.name));
    EXPECT_GE(a.tx_sent, 200u);
    EXPECT_EQ(a.tx_rejected, 0u);
  }
  EXPECT_NE(apps[0].pid, apps[1].pid);
  // lrp carried the traffic, not the kernel sockets.
  for (const auto& k : b.sockets()) EXPECT_GE(k.delivered, 200u);
  first->signal(SIGTERM);
  second->signal(SIGTERM);
  ASSERT_TRUE(first->wait_exit(5s).has_value());
  ASSERT_TRUE(second->wait_exit(5s).has_value());
  std::vector<uint64_t> n;
  served_by(first->stderr_text(), &n);
  ASSERT_EQ(n.size(), 1u);
  EXPECT_EQ(n[0], 200u);
  // Both gone: lrpd took everything back.
  EXPECT_TRUE(eventually([&] { return b.apps().empty() && b.sockets().empty(); }));
}

TEST(Lrpd, BindThenForkAnswersEverything) {
  LrpdBench b("fork");
  REQUIRE_BENCH(b);
  auto server = b.echo({"--port", "7010", "--fork", "2", "--name", "forked"});
  // Parent and both workers attached.
  ASSERT_TRUE(eventually([&] {
    auto apps = b.apps();
    return apps.size() == 1 && apps[0].sessions == 3;
  }));
  UdpPeer peer(b.bench.client_ns, AF_INET);
  EXPECT_EQ(ping_pong(peer, 7010, 10000, 16), 10000u);
  server->signal(SIGTERM);
  ASSERT_TRUE(server->wait_exit(10s).has_value());
  std::vector<uint64_t> per_worker;
  const uint64_t total = served_by(server->stderr_text(), &per_worker);
  EXPECT_EQ(total, 10000u);
  ASSERT_EQ(per_worker.size(), 2u);
  EXPECT_GT(per_worker[0], 0u);
  EXPECT_GT(per_worker[1], 0u);
}

TEST(Lrpd, ServesAClientThatDroppedItsPrivileges) {
  LrpdBench b("nobody");
  REQUIRE_BENCH(b);
  auto server = b.echo({"--port", "7020", "--setuid", "nobody", "--name", "unprivileged"});
  UdpPeer peer(b.bench.client_ns, AF_INET);
  EXPECT_EQ(ping_pong(peer, 7020, 100, 4), 100u);
  auto apps = b.apps();
  ASSERT_EQ(apps.size(), 1u);
  EXPECT_EQ(apps[0].uid, getpwnam("nobody")->pw_uid);
  EXPECT_GE(apps[0].delivered, 100u);
}

TEST(Lrpd, AKilledClientsFramesComeBack) {
  LrpdBench b("killed");
  REQUIRE_BENCH(b);
  auto stuck = b.echo({"--port", "7030", "--hold", "1", "--name", "stuck"});
  UdpPeer peer(b.bench.client_ns, AF_INET);
  peer.send_many(VethBench::kServer4, 7030, 6000, 64);
  // The ring is full of views it never hands back; lrpd queues the rest.
  ASSERT_TRUE(eventually([&] {
    auto apps = b.apps();
    return apps.size() == 1 && apps[0].rx_depth == apps[0].rx_entries;
  })) << "ring never filled";
  // The rest is dropped where LRP drops it: in the kernel's ring for the
  // socket or at XDP, before any protocol work was spent on it.
  ASSERT_TRUE(eventually([&] {
    auto apps = b.apps();
    return apps.size() == 1 && apps[0].drops[kDropKernelRing] + apps[0].drops[kDropShed] > 0;
  })) << "no early drops";
  EXPECT_EQ(b.apps()[0].drops[kDropRingFull], 0u);
  stuck->signal(SIGKILL);
  ASSERT_TRUE(stuck->wait_exit(5s).has_value());
  EXPECT_TRUE(eventually([&] { return b.apps().empty(); }, 1s));
  // With nothing in flight, every frame is back in its place.
  ASSERT_TRUE(eventually([&] {
    auto e = b.engines();
    return e.size() == 1 && e[0].frames_held == 0 && e[0].frames_accounted == 1;
  })) << "frames still held";
  EXPECT_EQ(b.engines()[0].frame_violations, 0u);
  // The port serves again when a new client binds it.
  auto again = b.echo({"--port", "7030", "--name", "again"});
  EXPECT_EQ(ping_pong(peer, 7030, 100, 4), 100u);
}

TEST(Lrpd, ClientsSurviveLrpdAndReattach) {
  LrpdBench b("restart");
  REQUIRE_BENCH(b);
  auto server = b.echo({"--port", "7040", "--name", "survivor"});
  UdpPeer peer(b.bench.client_ns, AF_INET);
  ASSERT_EQ(ping_pong(peer, 7040, 50, 4), 50u);
  // A steady request stream; each answer is timed.
  TimedRequests load(b.bench, 7040, 100000);
  std::this_thread::sleep_for(300ms);
  const auto killed = std::chrono::steady_clock::now();
  b.lrpd->signal(SIGKILL);
  ASSERT_TRUE(b.lrpd->wait_exit(5s).has_value());
  std::this_thread::sleep_for(1500ms);
  // Answered on the kernel socket within a second of lrpd's death.
  const auto first_after = load.first_answer_after(killed);
  ASSERT_TRUE(first_after.has_value()) << "no answer after lrpd died";
  EXPECT_LT(*first_after, 1s);
  ASSERT_TRUE(b.start_lrpd()) << b.lrpd->stderr_text();
  // Re-attached by itself, and lrp carries its traffic again.
  ASSERT_TRUE(eventually(
      [&] {
        auto k = b.sockets();
        return k.size() == 1 && k[0].delivered > 10;
      },
      5s))
      << "the client did not re-attach";
  load.stop();
  EXPECT_EQ(ping_pong(peer, 7040, 50, 4), 50u);
}

// A two-queue device: lrpd serves both queues, and the application gets
// what either delivers.
TEST(Lrpd, ServesEveryQueue) {
  LrpdBench b("mq", 2);
  REQUIRE_BENCH(b);
  auto server = b.echo({"--port", "7060", "--fork", "2", "--name", "mq"});
  ASSERT_TRUE(eventually([&] {
    auto apps = b.apps();
    return apps.size() == 1 && apps[0].sessions == 3;
  }));
  constexpr int kPeers = 4, kRounds = 250;
  size_t answered[2] = {0, 0};
  auto side = [&](int cpu, size_t* out) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
    std::vector<std::unique_ptr<UdpPeer>> peers;
    for (int i = 0; i < kPeers; ++i)
      peers.push_back(std::make_unique<UdpPeer>(b.bench.client_ns, AF_INET));
    for (int r = 0; r < kRounds; ++r) {
      const std::string payload = std::string("q").append(std::to_string(r));
      for (auto& p : peers) p->send_to(VethBench::kServer4, 7060, payload);
      for (auto& p : peers) {
        std::string got;
        if (p->receive(&got, 2000)) ++*out;
      }
    }
  };
  std::thread c0(side, 0, &answered[0]);
  std::thread c1(side, 1, &answered[1]);
  c0.join();
  c1.join();
  EXPECT_EQ(answered[0] + answered[1], size_t{2 * kPeers * kRounds});
  auto engines = b.engines();
  ASSERT_EQ(engines.size(), 2u);
  uint64_t delivered = 0;
  for (const auto& e : engines) {
    EXPECT_GT(e.delivered, 0u) << "queue " << e.queue << " delivered nothing";
    delivered += e.delivered;
  }
  EXPECT_EQ(delivered, uint64_t{2 * kPeers * kRounds});
  server->signal(SIGTERM);
  EXPECT_TRUE(server->wait_exit(10s).has_value());
}

// A client writes a transmit entry for a port it did not bind: lrpd refuses
// it (EPERM, counted) and nothing leaves from that port.
TEST(Lrpd, NoSpoofing) {
  LrpdBench b("spoof");
  REQUIRE_BENCH(b);
  UniqueFd ctl(socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, b.socket_path.c_str(), sizeof(addr.sun_path) - 1);
  ASSERT_EQ(connect(ctl.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  auto call = [&](MsgType type, const auto& body, std::span<const int> fds = {}) {
    EXPECT_TRUE(send_message(ctl.get(), type, 1, body, fds).ok());
    auto m = receive_message(ctl.get());
    EXPECT_TRUE(m.ok());
    return m.ok() ? std::move(m.value()) : Message{};
  };
  HelloRequest hello{};
  call(MsgType::Hello, hello);
  Message granted = call(MsgType::CreateApp, CreateAppRequest{});
  AppGrant g{};
  ASSERT_TRUE(granted.read(&g));
  auto region = Region::map(std::move(granted.fds[0]), g.region_size);
  ASSERT_TRUE(region.ok());
  UniqueFd doorbell = std::move(granted.fds[1]);
  UniqueFd kernel;
  {
    NetnsGuard in(b.bench.server_ns);
    ASSERT_TRUE(in.ok());
    kernel.reset(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_port = htons(7050);
    ASSERT_EQ(bind(kernel.get(), reinterpret_cast<sockaddr*>(&sin), sizeof(sin)), 0);
  }
  const int fds[1] = {kernel.get()};
  Message bound = call(MsgType::Bind, BindRequest{g.app_id, 0}, fds);
  SocketReply sr{};
  ASSERT_TRUE(bound.read(&sr)) << int(bound.type);
  UdpPeer peer(b.bench.client_ns, AF_INET, 9053);
  auto put = [&](uint16_t src_port, const char* text) {
    Ring& tx = region.value()->tx();
    RingSlot s;
    ASSERT_TRUE(tx.claim_produce(&s, 0));
    s.entry->socket_id = sr.socket_id;
    s.entry->length = static_cast<uint32_t>(std::strlen(text));
    std::memcpy(s.payload, text, s.entry->length);
    const IpAddress dst = IpAddress::parse(VethBench::kClient4).value();
    std::memcpy(s.entry->dst_addr, dst.bytes().data(), 16);
    s.entry->dst_port = 9053;
    s.entry->src_port = src_port;
    s.entry->family = 4;
    s.entry->flags = 0;
    tx.publish(s);
    if (tx.take_consumer_waiting()) ring_doorbell(doorbell.get());
  };
  put(7051, "spoofed");
  std::string got;
  uint16_t from_port = 0;
  EXPECT_FALSE(peer.receive(&got, 500, nullptr, &from_port))
      << "spoofed datagram from " << from_port;
  put(7050, "honest");
  ASSERT_TRUE(peer.receive(&got, 2000, nullptr, &from_port));
  EXPECT_EQ(got, "honest");
  EXPECT_EQ(from_port, 7050);
  auto apps = b.apps();
  ASSERT_EQ(apps.size(), 1u);
  EXPECT_EQ(apps[0].tx_rejected, 1u);
  EXPECT_EQ(apps[0].tx_sent, 1u);
}

}  // namespace
}  // namespace lrp::service
