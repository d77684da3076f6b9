// Sends to a neighbour the kernel has not resolved: the datagram waits, as
// the kernel's would, in a queue bounded like the kernel's, and leaves when
// ARP answers; when nobody answers it is dropped, counted, and reported on
// the next send to a socket that asked for errors (IP_RECVERR), as the
// kernel does; and meanwhile other senders carry on. Kernel sockets in the
// same test are the baseline.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "lrp/interface.h"
#include "tests/support/netns.h"
#include "tests/support/privileges.h"
#include "tests/support/udp_peer.h"

namespace lrp {
namespace {

using test::NetnsGuard;
using test::UdpPeer;
using test::VethBench;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

Endpoint at(const char* address, uint16_t port) {
  return Endpoint{*IpAddress::parse(address), port};
}

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

// A UDP socket in `netns` bound to an address the namespace may not have
// yet (IP_TRANSPARENT: a client whose address appears later).
int transparent_socket(const std::string& netns, const char* address, uint16_t port) {
  NetnsGuard in(netns);
  if (!in.ok()) return -1;
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, address, &a.sin_addr);
  if (fd < 0 || setsockopt(fd, SOL_IP, IP_TRANSPARENT, &one, sizeof(one)) != 0 ||
      bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    if (fd >= 0) close(fd);
    return -1;
  }
  return fd;
}

bool send_text(int fd, const char* address, uint16_t port, const std::string& text) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, address, &a.sin_addr);
  return sendto(fd, text.data(), text.size(), 0, reinterpret_cast<sockaddr*>(&a), sizeof(a)) ==
         static_cast<ssize_t>(text.size());
}

bool receive_text(int fd, std::string* text, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, timeout_ms) != 1) return false;
  char buf[2048];
  const ssize_t n = recv(fd, buf, sizeof(buf), 0);
  if (n < 0) return false;
  text->assign(buf, static_cast<size_t>(n));
  return true;
}

class NeighbourMiss : public ::testing::Test {
 protected:
  void SetUp() override {
    LRP_REQUIRE_PRIVILEGES();
    bench_ = std::make_unique<VethBench>("nbm");
    ASSERT_TRUE(bench_->ok) << "could not build the veth bench";
  }
  void open(const std::vector<std::string>& sysctls = {}) {
    for (const auto& s : sysctls) ASSERT_EQ(server_sysctl(s), 0) << s;
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
    stop_echo();
    iface_.reset();
    guard_.reset();
    bench_.reset();
  }
  int server_sysctl(const std::string& setting) {
    return test::run("ip netns exec " + bench_->server_ns + " sysctl -w " + setting);
  }
  std::string neigh_knob(const std::string& knob) {
    return "net.ipv4.neigh." + bench_->server_if + "." + knob;
  }
  SlotId bind(uint16_t port, std::optional<Endpoint> remote = std::nullopt,
              SocketOptions options = {}) {
    BindSpec spec;
    spec.port = port;
    if (remote) spec.local = *IpAddress::parse(VethBench::kServer4);
    spec.remote = remote;
    auto slot = iface_->open_socket(spec, options);
    EXPECT_TRUE(slot.ok()) << slot.error().message();
    return slot.ok() ? slot.value() : SlotId{0};
  }
  // lrp echo on the engine: replies to each datagram from the address it was sent to.
  void start_echo(SlotId slot) {
    echoing_ = true;
    echo_ = std::thread([this, slot] {
      Datagram d[16];
      while (echoing_) {
        const ProcessResult r = engine_->process(slot, d);
        for (size_t i = 0; i < r.delivered; ++i) {
          const IpAddress local = d[i].view.destination.addr;
          echo_status_ = engine_->send(slot, d[i].view.source, d[i].view.payload, &local);
          engine_->release(d[i]);
          (void)engine_->flush(slot);
        }
        if (r.taken == 0) std::this_thread::sleep_for(200us);
      }
    });
  }
  void stop_echo() {
    echoing_ = false;
    if (echo_.joinable()) echo_.join();
  }

  std::unique_ptr<VethBench> bench_;
  std::unique_ptr<NetnsGuard> guard_;
  std::unique_ptr<Interface> iface_;
  Engine* engine_ = nullptr;
  std::atomic<bool> echoing_{false};
  std::thread echo_;
  Status echo_status_;
};

TEST_F(NeighbourMiss, ClientWhoseAddressAppearsLateGetsItsReplyAsFromKernelSockets) {
  ASSERT_NO_FATAL_FAILURE(open());
  const SlotId slot = bind(7400);
  start_echo(slot);
  // The kernel's echo on the next port, in the same namespace.
  UdpPeer kernel_echo(bench_->server_ns, AF_INET, 7401);
  ASSERT_TRUE(kernel_echo.ok());
  std::atomic<bool> kernel_echoing{true};
  std::thread kernel_thread([&] {
    std::string text, from;
    uint16_t port = 0;
    while (kernel_echoing)
      if (kernel_echo.receive(&text, 100, &from, &port)) kernel_echo.send_to(from, port, text);
  });
  struct Case {
    const char* name;
    uint16_t port;
    const char* client;
  };
  for (const Case& c : {Case{"kernel", 7401, "198.18.0.60"}, Case{"lrp", 7400, "198.18.0.61"}}) {
    const int fd = transparent_socket(bench_->client_ns, c.client, 7600);
    ASSERT_GE(fd, 0) << c.name;
    const auto sent = Clock::now();
    ASSERT_TRUE(send_text(fd, VethBench::kServer4, c.port, std::string("late-") + c.name));
    // The address appears 0.3 s after the datagram left: ARP for it is
    // answered from the kernel's next probe on, about a second in.
    std::this_thread::sleep_for(300ms);
    ASSERT_EQ(test::run("ip -n " + bench_->client_ns + " addr add " + c.client + "/24 dev " +
                        bench_->client_if),
              0);
    std::string reply;
    const bool got = receive_text(fd, &reply, 6000);
    const double took = ms_since(sent);
    close(fd);
    EXPECT_TRUE(got) << c.name << ": no reply within 6 s";
    EXPECT_EQ(reply, std::string("late-") + c.name);
    std::printf("[ %s ] reply to a late client after %.0f ms\n", c.name, took);
    EXPECT_GT(took, 300.0) << c.name << ": answered before the client had its address";
  }
  kernel_echoing = false;
  kernel_thread.join();
  stop_echo();
  EXPECT_TRUE(echo_status_.ok()) << echo_status_.error().message();
  EXPECT_EQ(engine_->counters(slot).neighbour_waited.load(), 1u);
  EXPECT_EQ(engine_->neighbour_drops(slot), 0u);
  EXPECT_EQ(engine_->neighbours().waiting(), 0u);
}

// A connected kernel UDP socket to a silent address, with or without IP_RECVERR.
int kernel_sender(const char* silent, bool recverr) {
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(7500);
  inet_pton(AF_INET, silent, &to.sin_addr);
  if (fd < 0 || (recverr && setsockopt(fd, SOL_IP, IP_RECVERR, &one, sizeof(one)) != 0) ||
      connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof(to)) != 0 || send(fd, "k", 1, 0) != 1) {
    if (fd >= 0) close(fd);
    return -1;
  }
  return fd;
}

TEST_F(NeighbourMiss, SilentNeighbourFailsAsInTheKernelAndHoldsUpNobody) {
  // Two broadcast probes 200 ms apart: the kernel gives up after ~0.4 s.
  ASSERT_NO_FATAL_FAILURE(open({neigh_knob("mcast_solicit=2"), neigh_knob("ucast_solicit=0"),
                                neigh_knob("app_solicit=0"), neigh_knob("retrans_time_ms=200")}));
  // Baseline: kernel sockets to silent addresses, with and without IP_RECVERR.
  const int k_recverr = kernel_sender("198.18.0.76", true);
  const int k_plain = kernel_sender("198.18.0.77", false);
  ASSERT_GE(k_recverr, 0);
  ASSERT_GE(k_plain, 0);

  SocketOptions reporting;
  reporting.report_errors = true;
  const SlotId l_recverr = bind(7501, at("198.18.0.78", 7500), reporting);
  const SlotId l_plain = bind(7502);
  const SlotId other = bind(7503);
  const uint8_t one[1] = {'x'};
  ASSERT_TRUE(engine_->send(l_recverr, at("198.18.0.78", 7500), one).ok());
  ASSERT_TRUE(engine_->send(l_plain, at("198.18.0.79", 7500), one).ok());

  // Meanwhile another socket sends to the resolved peer every millisecond.
  UdpPeer peer(bench_->client_ns, AF_INET, 7504);
  ASSERT_TRUE(peer.ok());
  std::vector<double> latencies_us;
  size_t other_sent = 0;
  const auto start = Clock::now();
  while (Clock::now() - start < 1200ms) {
    const std::string text = "o" + std::to_string(other_sent);
    const auto t = Clock::now();
    Status st = engine_->send(other, at(VethBench::kClient4, 7504),
                              {reinterpret_cast<const uint8_t*>(text.data()), text.size()});
    (void)engine_->flush(other);
    latencies_us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t).count());
    ASSERT_TRUE(st.ok()) << st.error().message();
    ++other_sent;
    std::this_thread::sleep_for(1ms);
  }
  std::sort(latencies_us.begin(), latencies_us.end());
  const double p50 = latencies_us[latencies_us.size() / 2];
  const double p99 = latencies_us[latencies_us.size() * 99 / 100];
  const double worst = latencies_us.back();
  std::printf(
      "other sender during the failing resolutions: %zu sends, p50 %.1f us, p99 %.1f us, "
      "max %.1f us\n",
      other_sent, p50, p99, worst);
  // The first send asks the kernel (route, neighbour): a netlink exchange or
  // two. Nothing waits for the ~0.4 s resolution.
  EXPECT_LT(worst, 50'000.0);
  size_t other_received = 0;
  std::string text;
  while (other_received < other_sent && peer.receive(&text, 1000)) ++other_received;
  EXPECT_EQ(other_received, other_sent);

  // The kernel has failed all four by now (probes ended ~0.4 s in; 1.2 s passed).
  errno = 0;
  EXPECT_EQ(send(k_recverr, "k", 1, 0), -1);
  EXPECT_EQ(errno, EHOSTUNREACH) << "the kernel socket with IP_RECVERR";
  EXPECT_EQ(send(k_plain, "k", 1, 0), 1)
      << "the kernel socket without IP_RECVERR: " << std::strerror(errno);
  Status st = engine_->send(l_recverr, at("198.18.0.78", 7500), one);
  ASSERT_FALSE(st.ok()) << "lrp's socket with error reports heard nothing";
  EXPECT_EQ(st.error().code, EHOSTUNREACH) << st.error().message();
  EXPECT_NE(st.error().message().find("198.18.0.78"), std::string::npos) << st.error().message();
  EXPECT_TRUE(engine_->send(l_plain, at("198.18.0.79", 7500), one).ok());
  // Reported once, as sk_err is; the next send queues again.
  EXPECT_EQ(send(k_recverr, "k", 1, 0), 1);
  EXPECT_TRUE(engine_->send(l_recverr, at("198.18.0.78", 7500), one).ok());
  // Either way the drops are counted.
  EXPECT_EQ(engine_->neighbour_drops(l_recverr), 1u);
  EXPECT_EQ(engine_->neighbour_drops(l_plain), 1u);
  EXPECT_EQ(engine_->neighbour_drops(other), 0u);
  EXPECT_EQ(engine_->neighbours().counters().failed.load(), 2u);
  close(k_recverr);
  close(k_plain);
}

TEST_F(NeighbourMiss, QueueIsBoundedLikeTheKernelsAndTheOldestGiveWay) {
  ASSERT_NO_FATAL_FAILURE(open({neigh_knob("unres_qlen_bytes=4096")}));
  EXPECT_EQ(engine_->neighbours().queue_bytes(AF_INET), 4096u);
  const int fd = transparent_socket(bench_->client_ns, "198.18.0.62", 7601);
  ASSERT_GE(fd, 0);
  const SlotId slot = bind(7602);
  constexpr int kSent = 50;
  for (int i = 0; i < kSent; ++i) {
    const std::string text = std::to_string(i) + std::string(196, '.');
    ASSERT_TRUE(engine_
                    ->send(slot, at("198.18.0.62", 7601),
                           {reinterpret_cast<const uint8_t*>(text.data()), text.size()})
                    .ok());
  }
  const size_t waiting = engine_->neighbours().waiting();
  EXPECT_GT(waiting, 0u);
  EXPECT_LT(waiting, 4096u / 200);
  EXPECT_EQ(engine_->neighbour_drops(slot), kSent - waiting);
  ASSERT_EQ(
      test::run("ip -n " + bench_->client_ns + " addr add 198.18.0.62/24 dev " + bench_->client_if),
      0);
  std::vector<int> got;
  std::string text;
  while (receive_text(fd, &text, 3000)) {
    got.push_back(std::stoi(text));
    if (got.size() == waiting) break;
  }
  close(fd);
  ASSERT_EQ(got.size(), waiting);
  // The newest waited; the oldest made room for them.
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], static_cast<int>(kSent - waiting + i));
}

}  // namespace
}  // namespace lrp
