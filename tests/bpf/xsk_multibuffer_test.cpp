// Frames larger than a UMEM frame at MTU 9000 on veth, end to end through
// the lrp XDP program (native, multi-buffer) into an AF_XDP socket in copy
// mode: bound with XDP_USE_SG a datagram arrives over several descriptors,
// all but the last marked XDP_PKT_CONTD; bound without it the kernel drops
// it and counts it in XDP_STATISTICS rx_dropped. This is what a receive
// side must handle to serve such an MTU.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <linux/if_xdp.h>
#include <net/if.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <xdp/xsk.h>

#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include "lrp/netdev.h"
#include "lrp/xdp_program.h"
#include "tests/support/netns.h"
#include "tests/support/privileges.h"
#include "tests/support/udp_peer.h"

// Newer than Debian 12's kernel headers (Linux 6.6).
#ifndef XDP_USE_SG
#define XDP_USE_SG (1 << 4)
#endif
#ifndef XDP_PKT_CONTD
#define XDP_PKT_CONTD (1 << 0)
#endif

namespace lrp {
namespace {

using namespace std::chrono_literals;
using test::NetnsGuard;
using test::UdpPeer;
using test::VethBench;

constexpr uint16_t kPort = 7777;
constexpr SlotId kSlot = 3;
constexpr uint32_t kFrames = 64;
constexpr uint32_t kFrameSize = 4096;
constexpr size_t kPayload = 8000;

// One AF_XDP socket on queue 0 of an interface, with a UMEM of its own.
class Xsk {
 public:
  Xsk(const std::string& ifname, uint32_t bind_flags, std::string* error) {
    size_ = static_cast<size_t>(kFrames) * kFrameSize;
    area_ = mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (area_ == MAP_FAILED) {
      area_ = nullptr;
      *error = "mmap";
      return;
    }
    xsk_umem_config ucfg{.fill_size = kFrames,
                         .comp_size = kFrames,
                         .frame_size = kFrameSize,
                         .frame_headroom = 0,
                         .flags = 0};
    int err = xsk_umem__create(&umem_, area_, size_, &fill_, &comp_, &ucfg);
    if (err != 0) {
      *error = std::string("xsk_umem__create: ") + std::strerror(-err);
      return;
    }
    xsk_socket_config scfg{.rx_size = kFrames,
                           .tx_size = kFrames,
                           .libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD,
                           .xdp_flags = 0,
                           .bind_flags = static_cast<uint16_t>(XDP_COPY | bind_flags)};
    err = xsk_socket__create(&xsk_, ifname.c_str(), 0, umem_, &rx_, &tx_, &scfg);
    if (err != 0) {
      xsk_ = nullptr;
      *error = std::string("xsk_socket__create: ") + std::strerror(-err);
      return;
    }
    uint32_t idx = 0;
    if (xsk_ring_prod__reserve(&fill_, kFrames, &idx) != kFrames) {
      *error = "fill ring";
      return;
    }
    for (uint32_t i = 0; i < kFrames; ++i)
      *xsk_ring_prod__fill_addr(&fill_, idx + i) = static_cast<uint64_t>(i) * kFrameSize;
    xsk_ring_prod__submit(&fill_, kFrames);
  }
  ~Xsk() {
    if (xsk_ != nullptr) xsk_socket__delete(xsk_);
    if (umem_ != nullptr) xsk_umem__delete(umem_);
    if (area_ != nullptr) munmap(area_, size_);
  }
  bool ok() const { return xsk_ != nullptr; }
  int fd() const { return xsk_socket__fd(xsk_); }

  // Descriptors that arrive within the time limit: (bytes, options).
  std::vector<std::pair<std::vector<uint8_t>, uint32_t>> receive(std::chrono::milliseconds limit) {
    std::vector<std::pair<std::vector<uint8_t>, uint32_t>> out;
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd(), POLLIN, 0};
      (void)poll(&p, 1, 20);
      uint32_t idx = 0;
      const uint32_t n = xsk_ring_cons__peek(&rx_, kFrames, &idx);
      for (uint32_t i = 0; i < n; ++i) {
        const xdp_desc* d = xsk_ring_cons__rx_desc(&rx_, idx + i);
        const auto* data = static_cast<const uint8_t*>(xsk_umem__get_data(area_, d->addr));
        out.emplace_back(std::vector<uint8_t>(data, data + d->len), d->options);
      }
      xsk_ring_cons__release(&rx_, n);
      // A datagram is complete at a descriptor without the continuation mark.
      if (!out.empty() && (out.back().second & XDP_PKT_CONTD) == 0) break;
    }
    return out;
  }

  uint64_t rx_dropped() const {
    xdp_statistics stats{};
    socklen_t len = sizeof(stats);
    if (getsockopt(fd(), SOL_XDP, XDP_STATISTICS, &stats, &len) != 0) return 0;
    return stats.rx_dropped;
  }

 private:
  void* area_ = nullptr;
  size_t size_ = 0;
  xsk_umem* umem_ = nullptr;
  xsk_socket* xsk_ = nullptr;
  xsk_ring_prod fill_{};
  xsk_ring_cons comp_{};
  xsk_ring_cons rx_{};
  xsk_ring_prod tx_{};
};

class bpf_xsk_multibuffer : public ::testing::Test {
 protected:
  void SetUp() override {
    LRP_REQUIRE_PRIVILEGES();
    bench_ = std::make_unique<VethBench>("mbuf", test::VethOptions{.mtu = 9000});
    ASSERT_TRUE(bench_->ok);
    guard_ = std::make_unique<NetnsGuard>(bench_->server_ns);
    ASSERT_TRUE(guard_->ok());
    auto info = query_interface(bench_->server_if);
    ASSERT_TRUE(info.ok()) << info.error().message();
    auto program = XdpProgram::attach(info->ifindex, bench_->server_if, XdpMode::Native);
    ASSERT_TRUE(program.ok()) << program.error().message();
    program_ = std::move(program.value());
    ASSERT_TRUE(program_->set_interface(info->mac, 0).ok());
    auto server = IpAddress::parse(VethBench::kServer4);
    ASSERT_TRUE(program_->add_address(server.value(), AddressFlags::Local).ok());
    lrp_flow_key key;
    std::memset(&key, 0, sizeof(key));
    key.kind = LRP_FLOW_WILDCARD;
    key.family = 4;
    key.local_port = htons(kPort);
    ASSERT_TRUE(program_->add_flow(key, kSlot).ok());
  }
  void TearDown() override {
    program_.reset();
    guard_.reset();
    bench_.reset();
  }

  void send_jumbo() {
    UdpPeer client(bench_->client_ns, AF_INET);
    ASSERT_TRUE(client.ok());
    std::string payload(kPayload, '\0');
    for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>(i * 7 + 1);
    ASSERT_TRUE(client.send_to(VethBench::kServer4, kPort, payload));
  }

  std::unique_ptr<VethBench> bench_;
  std::unique_ptr<NetnsGuard> guard_;
  std::unique_ptr<XdpProgram> program_;
};

TEST_F(bpf_xsk_multibuffer, WithUseSgADatagramArrivesOverSeveralDescriptors) {
  std::string error;
  Xsk xsk(bench_->server_if, XDP_USE_SG, &error);
  ASSERT_TRUE(xsk.ok()) << error;
  ASSERT_TRUE(program_->set_socket(0, kSlot, xsk.fd()).ok());
  ASSERT_NO_FATAL_FAILURE(send_jumbo());
  const auto descs = xsk.receive(2000ms);
  ASSERT_GE(descs.size(), 2u) << "one descriptor cannot hold an 8042-byte frame";
  std::vector<uint8_t> frame;
  for (size_t i = 0; i < descs.size(); ++i) {
    const bool last = i + 1 == descs.size();
    EXPECT_EQ((descs[i].second & XDP_PKT_CONTD) != 0, !last) << "descriptor " << i;
    EXPECT_LE(descs[i].first.size(), kFrameSize - 256u);
    frame.insert(frame.end(), descs[i].first.begin(), descs[i].first.end());
  }
  ASSERT_EQ(frame.size(), 14 + 20 + 8 + kPayload);
  for (size_t i = 0; i < kPayload; ++i)
    ASSERT_EQ(frame[42 + i], static_cast<uint8_t>(i * 7 + 1)) << "payload byte " << i;
  auto counters = program_->slot_counters(kSlot);
  ASSERT_TRUE(counters.ok());
  EXPECT_EQ(counters->at(LRP_SLOT_REDIRECTED), 1u);
}

TEST_F(bpf_xsk_multibuffer, WithoutUseSgTheKernelDropsAndCountsIt) {
  std::string error;
  Xsk xsk(bench_->server_if, 0, &error);
  ASSERT_TRUE(xsk.ok()) << error;
  ASSERT_TRUE(program_->set_socket(0, kSlot, xsk.fd()).ok());
  ASSERT_NO_FATAL_FAILURE(send_jumbo());
  EXPECT_TRUE(xsk.receive(500ms).empty());
  EXPECT_EQ(xsk.rx_dropped(), 1u);
  auto counters = program_->slot_counters(kSlot);
  ASSERT_TRUE(counters.ok());
  EXPECT_EQ(counters->at(LRP_SLOT_REDIRECTED), 1u) << "XDP redirected it; the socket refused it";
}

}  // namespace
}  // namespace lrp
