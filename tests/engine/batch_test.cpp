// The engine's ring halves without a device (rings in ordinary memory):
// batched send with one pool lock and descriptor chains for frames larger
// than a UMEM frame, completions returned to their owners, and receive of
// multi-buffer packets into large buffers.
#include <gtest/gtest.h>

#include <cstring>
#include <numeric>
#include <vector>

#include "benchmarks/engine/fake_rings.h"
#include "lrp/checksum.h"
#include "lrp/frame_pool.h"
#include "lrp/large_buffers.h"
#include "lrp/rx_batch.h"
#include "lrp/tx_batch.h"
#include "lrp/udp_frame.h"

namespace lrp {
namespace {

using bench::RingMemory;

constexpr uint32_t kFrames = 64;
constexpr uint32_t kFrameSize = 2048;
constexpr uint32_t kRing = 64;
constexpr uint16_t kOwner = 5;

FrameHeaderSpec spec_for(size_t /*payload*/) {
  FrameHeaderSpec spec{};
  spec.src_mac = {0x02, 0, 0, 0, 0, 0x01};
  spec.dst_mac = {0x02, 0, 0, 0, 0, 0x02};
  spec.source = Endpoint{*IpAddress::parse("198.18.0.1"), 9000};
  spec.destination = Endpoint{*IpAddress::parse("198.18.0.2"), 40000};
  return spec;
}

struct TxBench {
  TxBench() : area(size_t{kFrames} * kFrameSize), pool(kFrames, kFrameSize, 8) {
    bench::init_producer(tx, tx_m, kRing, sizeof(xdp_desc));
    bench::init_consumer(comp, comp_m, kRing, sizeof(uint64_t));
  }
  TxQueue queue(bool multi) { return TxQueue{&tx, &pool, area.data(), kFrameSize, multi}; }
  const xdp_desc& desc(uint32_t i) const {
    return reinterpret_cast<const xdp_desc*>(tx_m.entries.data())[i & (kRing - 1)];
  }
  std::vector<uint8_t> area;
  FramePool pool;
  RingMemory tx_m, comp_m;
  xsk_ring_prod tx{};
  xsk_ring_cons comp{};
};

std::vector<uint8_t> pattern(size_t n) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(i * 7 + 3);
  return v;
}

TEST(TxBatch, BuildsABatchUnderOneTakeAndCompletesItToItsOwner) {
  TxBench b;
  const auto payload = pattern(100);
  std::vector<TxFrame> frames(10, TxFrame{spec_for(100), payload});
  const size_t sent = transmit_frames(b.queue(false), kOwner, frames, 256);
  ASSERT_EQ(sent, 10u);
  EXPECT_EQ(b.pool.tx_by(kOwner), 10u);
  for (uint32_t i = 0; i < 10; ++i) {
    const xdp_desc& d = b.desc(i);
    EXPECT_EQ(d.options, 0u);
    ParseResult parsed = parse_udp_frame({b.area.data() + d.addr, d.len}, {});
    ASSERT_TRUE(parsed.ok()) << "frame " << i << ": " << to_string(parsed.reason());
    EXPECT_EQ(parsed.view().payload.size(), payload.size());
    EXPECT_EQ(0, std::memcmp(parsed.view().payload.data(), payload.data(), payload.size()));
  }
  EXPECT_EQ(bench::kernel_transmit(b.tx_m, b.comp_m), 10u);
  uint32_t completed = 0;
  reclaim_completed(&b.comp, kRing, b.pool, [&](uint16_t owner, uint32_t n) {
    EXPECT_EQ(owner, kOwner);
    completed += n;
  });
  EXPECT_EQ(completed, 10u);
  EXPECT_EQ(b.pool.tx_by(kOwner), 0u);
  std::string why;
  EXPECT_TRUE(b.pool.consistent(&why)) << why;
}

TEST(TxBatch, StopsAtTheDescriptorBudgetAndAtTheRing) {
  TxBench b;
  const auto payload = pattern(64);
  std::vector<TxFrame> frames(100, TxFrame{spec_for(64), payload});
  EXPECT_EQ(transmit_frames(b.queue(false), kOwner, frames, 7), 7u);
  // The ring has kRing entries: the rest fit until it is full.
  EXPECT_EQ(transmit_frames(b.queue(false), kOwner, frames, 256), kRing - 7);
  EXPECT_EQ(transmit_frames(b.queue(false), kOwner, frames, 256), 0u);
  EXPECT_EQ(b.pool.tx_by(kOwner), kRing);
  std::string why;
  EXPECT_TRUE(b.pool.consistent(&why)) << why;
}

TEST(TxBatch, ShortPoolSendsOnlyWholeDatagrams) {
  TxBench b;
  // Leave 5 frames free: a 3-descriptor datagram, then one that needs 3 more.
  std::vector<uint64_t> hog(kFrames - 5);
  ASSERT_EQ(b.pool.take_for_fill(hog), hog.size());
  const auto big = pattern(5000);
  std::vector<TxFrame> frames(2, TxFrame{spec_for(big.size()), big});
  EXPECT_EQ(transmit_frames(b.queue(true), kOwner, frames, 256), 1u);
  EXPECT_EQ(b.pool.tx_by(kOwner), 3u);
  EXPECT_EQ(b.pool.counts().at(FramePlace::Free), 2u);
  std::string why;
  EXPECT_TRUE(b.pool.consistent(&why)) << why;
}

TEST(TxBatch, LargeDatagramLeavesAsADescriptorChainWithOneChecksum) {
  TxBench b;
  const auto payload = pattern(8000);
  const FrameHeaderSpec spec = spec_for(payload.size());
  const TxFrame frame{spec, payload};
  ASSERT_EQ(transmit_frames(b.queue(true), kOwner, {&frame, 1}, 256), 1u);
  // 14 + 20 + 8 + 8000 bytes in frames of 2048: four descriptors.
  std::vector<uint8_t> joined;
  for (uint32_t i = 0; i < 4; ++i) {
    const xdp_desc& d = b.desc(i);
    EXPECT_EQ(d.options, i < 3 ? uint32_t{XDP_PKT_CONTD} : 0u) << i;
    EXPECT_EQ(d.len, i < 3 ? kFrameSize : 8042 - 3 * kFrameSize) << i;
    joined.insert(joined.end(), b.area.data() + d.addr, b.area.data() + d.addr + d.len);
  }
  ParseResult parsed = parse_udp_frame(joined, {});
  ASSERT_TRUE(parsed.ok()) << to_string(parsed.reason());
  ASSERT_EQ(parsed.view().payload.size(), payload.size());
  EXPECT_EQ(0, std::memcmp(parsed.view().payload.data(), payload.data(), payload.size()));
  // The same datagram built whole carries the same bytes.
  std::vector<uint8_t> whole(9000);
  auto len = build_udp_frame(whole, spec, payload);
  ASSERT_TRUE(len.ok());
  whole.resize(len.value());
  EXPECT_EQ(whole, joined);
}

TEST(TxBatch, WithoutMultiBufferALargeFrameIsNeverEmitted) {
  TxBench b;
  const FrameHeaderSpec spec = spec_for(3000);
  EXPECT_EQ(check_udp_frame(spec, 3000, kFrameSize).error().code, EMSGSIZE);
  const auto payload = pattern(3000);
  const TxFrame frame{spec, payload};
  // A caller that skipped the check still gets nothing on the ring.
  EXPECT_EQ(transmit_frames(b.queue(false), kOwner, {&frame, 1}, 256), 0u);
  EXPECT_EQ(*b.tx_m.entries.data(), 0);
  EXPECT_EQ(b.tx_m.producer, 0u);
  EXPECT_EQ(b.pool.tx_by(kOwner), 0u);
  std::string why;
  EXPECT_TRUE(b.pool.consistent(&why)) << why;
}

struct RxBench {
  RxBench() : area(size_t{kFrames} * kFrameSize), pool(kFrames, kFrameSize, 8), large(4, 9216, 8) {
    bench::init_producer(fill, fill_m, kRing, sizeof(uint64_t));
    bench::init_consumer(rx, rx_m, kRing, sizeof(xdp_desc));
    fill_from_pool(&fill, kRing, pool);
  }
  // Puts one packet on the RX ring as the kernel would in copy mode: in
  // pieces of at most 1792 bytes, each in a frame from the fill ring.
  void arrive(std::span<const uint8_t> frame) {
    auto* addrs = reinterpret_cast<const uint64_t*>(fill_m.entries.data());
    auto* descs = reinterpret_cast<xdp_desc*>(rx_m.entries.data());
    for (size_t off = 0; off < frame.size();) {
      const size_t n = std::min<size_t>(1792, frame.size() - off);
      const uint64_t addr = addrs[fill_m.consumer++ & (kRing - 1)] + 256;
      std::memcpy(area.data() + addr, frame.data() + off, n);
      off += n;
      xdp_desc& d = descs[(rx_m.producer + pending) & (kRing - 1)];
      d = xdp_desc{addr, static_cast<uint32_t>(n),
                   off < frame.size() ? uint32_t{XDP_PKT_CONTD} : 0};
      ++pending;
      // Published only with the packet's last piece, as the kernel does.
      if (off == frame.size()) rx_m.producer += pending, pending = 0;
    }
  }
  RxQueue queue() { return RxQueue{&rx, &pool, area.data(), ParseOptions{}, &large, 2}; }
  std::vector<uint8_t> area;
  FramePool pool;
  LargeBuffers large;
  RingMemory fill_m, rx_m;
  xsk_ring_prod fill{};
  xsk_ring_cons rx{};
  uint32_t pending = 0;
};

std::vector<uint8_t> frame_with(size_t payload_size, std::vector<uint8_t>* payload) {
  *payload = pattern(payload_size);
  std::vector<uint8_t> f(payload_size + 100);
  auto len = build_udp_frame(f, spec_for(payload_size), *payload);
  EXPECT_TRUE(len.ok());
  f.resize(len.ok() ? len.value() : 0);
  return f;
}

TEST(RxBatch, MultiBufferPacketBecomesOneDatagramAndItsFramesGoBack) {
  RxBench b;
  std::vector<uint8_t> small, big;
  b.arrive(frame_with(100, &small));
  b.arrive(frame_with(8000, &big));  // five pieces
  b.arrive(frame_with(200, &small));
  SocketCounters counters;
  Datagram out[8];
  const ProcessResult r = receive_batch(b.queue(), kOwner, counters, out, 8);
  EXPECT_EQ(r.taken, 7u);
  ASSERT_EQ(r.delivered, 3u);
  EXPECT_EQ(out[0].view.payload.size(), 100u);
  ASSERT_EQ(out[1].view.payload.size(), 8000u);
  EXPECT_EQ(0, std::memcmp(out[1].view.payload.data(), big.data(), big.size()));
  EXPECT_NE(out[1].frame & kLargeBufferFrame, 0u);
  EXPECT_EQ(out[2].view.payload.size(), 200u);
  // The five pieces are free again; the two small datagrams and one large buffer are held.
  EXPECT_EQ(b.pool.held_by(kOwner), 2u);
  EXPECT_EQ(b.large.held_by(kOwner), 1u);
  EXPECT_TRUE(b.large.give_back(static_cast<uint32_t>(out[1].frame), kOwner));
  std::string why;
  EXPECT_TRUE(b.pool.consistent(&why)) << why;
}

TEST(RxBatch, APacketCutByTheLimitStaysOnTheRingWhole) {
  RxBench b;
  std::vector<uint8_t> p1, p2;
  b.arrive(frame_with(100, &p1));
  b.arrive(frame_with(5000, &p2));  // three pieces
  SocketCounters counters;
  Datagram out[8];
  // Room for two datagrams, asked with a limit of two descriptors: the
  // second packet's pieces are finished past the limit.
  ProcessResult r = receive_batch(b.queue(), kOwner, counters, {out, 2}, 2);
  EXPECT_EQ(r.taken, 4u);
  ASSERT_EQ(r.delivered, 2u);
  EXPECT_EQ(out[1].view.payload.size(), 5000u);
  // Room for one datagram, and a limit of one descriptor: the packet's
  // second piece comes along.
  b.arrive(frame_with(3000, &p2));
  r = receive_batch(b.queue(), kOwner, counters, {out, 1}, 1);
  EXPECT_EQ(r.taken, 2u);
  ASSERT_EQ(r.delivered, 1u);
  EXPECT_EQ(out[0].view.payload.size(), 3000u);
}

TEST(RxBatch, NoLargeBufferLeftIsACountedDrop) {
  RxBench b;
  std::vector<uint8_t> big;
  SocketCounters counters;
  Datagram out[16];
  for (int i = 0; i < 5; ++i) b.arrive(frame_with(4000, &big));  // three pieces each
  const ProcessResult r = receive_batch(b.queue(), kOwner, counters, out, 16);
  EXPECT_EQ(r.taken, 15u);
  EXPECT_EQ(r.delivered, 4u);  // four large buffers
  EXPECT_EQ(counters.large_no_buffer.load(), 1u);
  EXPECT_EQ(b.pool.held_by(kOwner), 0u);
  std::string why;
  EXPECT_TRUE(b.pool.consistent(&why)) << why;
}

TEST(RxBatch, CorruptLargeDatagramIsRejectedAndItsBufferReturned) {
  RxBench b;
  std::vector<uint8_t> big;
  auto f = frame_with(6000, &big);
  f[f.size() - 1] ^= 0xff;  // the UDP checksum no longer holds
  b.arrive(f);
  SocketCounters counters;
  Datagram out[4];
  const ProcessResult r = receive_batch(b.queue(), kOwner, counters, out, 4);
  EXPECT_EQ(r.delivered, 0u);
  EXPECT_EQ(counters.invalid[static_cast<size_t>(DropReason::BadUdpChecksum)].load(), 1u);
  EXPECT_EQ(b.large.held(), 0u);
}

// The build side sums the headers it writes from their fields; the general
// checksum code is the reference, over every payload length up to a few
// hundred bytes, both families, VLAN tags, and ports and addresses that
// make the sum wrap.
TEST(BuildSide, ChecksumsAgreeWithTheReference) {
  uint32_t seed = 12345;
  const auto next = [&] { return seed = seed * 1664525 + 1013904223; };
  for (bool v6 : {false, true}) {
    for (size_t len = 0; len < 400; ++len) {
      FrameHeaderSpec spec = spec_for(len);
      if (v6) {
        spec.source.addr = *IpAddress::parse("2001:2::ffff:1");
        spec.destination.addr = *IpAddress::parse("2001:2:ffff:ffff::fffe");
      } else if (len % 3 == 0) {
        spec.source.addr = *IpAddress::parse("255.255.255.254");
      }
      spec.source.port = static_cast<uint16_t>(next());
      spec.destination.port = static_cast<uint16_t>(next() | 0x8000);
      spec.vlan = len % 5 == 0 ? 42 : 0;
      spec.ttl = static_cast<uint8_t>(next());
      std::vector<uint8_t> payload(len);
      for (auto& b : payload) b = static_cast<uint8_t>(next());
      std::vector<uint8_t> frame(len + 100);
      auto n = build_udp_frame(frame, spec, payload);
      ASSERT_TRUE(n.ok());
      const size_t l3 = spec.vlan != 0 ? 18 : 14;
      const size_t l4 = l3 + (v6 ? 40 : 20);
      const std::span<const uint8_t> datagram(frame.data() + l4, n.value() - l4);
      const uint16_t sent = static_cast<uint16_t>(frame[l4 + 6] << 8 | frame[l4 + 7]);
      // The reference computes with the checksum field taken as zero.
      const uint16_t reference =
          v6 ? udp_checksum_ipv6(spec.source.addr.bytes(), spec.destination.addr.bytes(), datagram)
             : udp_checksum_ipv4(std::span<const uint8_t, 4>(spec.source.addr.v4_bytes(), 4),
                                 std::span<const uint8_t, 4>(spec.destination.addr.v4_bytes(), 4),
                                 datagram);
      ASSERT_EQ(sent, reference) << (v6 ? "IPv6" : "IPv4") << " payload " << len;
      if (!v6) {
        ASSERT_TRUE(ipv4_header_checksum_ok({frame.data() + l3, 20})) << len;
      }
      ParseResult parsed = parse_udp_frame({frame.data(), n.value()}, {});
      ASSERT_TRUE(parsed.ok()) << len << ": " << to_string(parsed.reason());
    }
  }
}

}  // namespace
}  // namespace lrp
