// Frames for the UDP parser tests: built by the library, then edited field by
// field. Checksums of edited frames are recomputed with a naive RFC 1071 sum
// written here, so that a crafted frame fails only the check it was made to
// fail, and so that the library's checksum code is never its own oracle.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <stdexcept>
#include <vector>

#include "lrp/ip_address.h"
#include "lrp/udp_frame.h"

namespace lrp::test {

using Bytes = std::vector<uint8_t>;

// Benchmarking ranges only (RFC 2544, RFC 5180).
inline constexpr const char* kServer4 = "198.18.0.1";
inline constexpr const char* kClient4 = "198.18.0.2";
inline constexpr const char* kServer6 = "2001:2::1";
inline constexpr const char* kClient6 = "2001:2::2";
inline constexpr uint16_t kServerPort = 7;
inline constexpr uint16_t kClientPort = 40000;
inline constexpr std::array<uint8_t, 6> kServerMac = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
inline constexpr std::array<uint8_t, 6> kClientMac = {0x02, 0x00, 0x00, 0x00, 0x00, 0x02};

inline constexpr size_t kEthHeader = 14;
inline constexpr size_t kVlanTag = 4;
inline constexpr size_t kIpv4Header = 20;
inline constexpr size_t kIpv6Header = 40;
inline constexpr size_t kUdpHeader = 8;
inline constexpr uint8_t kProtoHopByHop = 0;
inline constexpr uint8_t kProtoTcp = 6;
inline constexpr uint8_t kProtoUdp = 17;
inline constexpr uint8_t kProtoRouting = 43;
inline constexpr uint8_t kProtoFragment = 44;
inline constexpr uint8_t kProtoDestOptions = 60;

// The ones' complement sum of big-endian 16-bit words, folded to 16 bits; a
// last odd byte is the high half of a word padded with zero.
inline uint16_t reference_sum(std::span<const uint8_t> bytes) {
  uint64_t sum = 0;
  for (size_t i = 0; i < bytes.size(); i += 2) {
    const uint16_t low = i + 1 < bytes.size() ? bytes[i + 1] : 0;
    sum += static_cast<uint16_t>(bytes[i] << 8 | low);
  }
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}

inline uint16_t reference_checksum(std::span<const uint8_t> bytes) {
  return static_cast<uint16_t>(~reference_sum(bytes));
}

inline uint16_t get16(std::span<const uint8_t> f, size_t offset) {
  return static_cast<uint16_t>(f[offset] << 8 | f[offset + 1]);
}

inline void set16(Bytes& f, size_t offset, uint16_t value) {
  f[offset] = static_cast<uint8_t>(value >> 8);
  f[offset + 1] = static_cast<uint8_t>(value);
}

inline IpAddress address(const char* text) {
  auto parsed = IpAddress::parse(text);
  if (!parsed.ok()) throw std::invalid_argument(parsed.error().message());
  return parsed.value();
}

// Bytes that differ at every position, so a payload shifted or cut shows.
inline Bytes pattern(size_t n, uint8_t seed = 0) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(i * 131 + seed + 1);
  return b;
}

// The frame shapes the parser must accept.
struct FrameKind {
  const char* name;
  bool v6;
  uint16_t vlan;  // 0: untagged
};

inline constexpr FrameKind kIpv4{"ipv4", false, 0};
inline constexpr FrameKind kIpv6{"ipv6", true, 0};
inline constexpr FrameKind kIpv4Vlan{"ipv4_vlan", false, 100};
inline constexpr FrameKind kIpv6Vlan{"ipv6_vlan", true, 4095};
inline constexpr std::array<FrameKind, 4> kAllKinds = {kIpv4, kIpv6, kIpv4Vlan, kIpv6Vlan};

// Where the IP and UDP headers start; l4 moves when headers are inserted.
struct Layout {
  bool v6 = false;
  size_t l3 = 0;
  size_t l4 = 0;
};

inline Layout layout_of(const FrameKind& kind) {
  const size_t l3 = kEthHeader + (kind.vlan != 0 ? kVlanTag : 0);
  return Layout{kind.v6, l3, l3 + (kind.v6 ? kIpv6Header : kIpv4Header)};
}

inline FrameHeaderSpec spec_for(const FrameKind& kind) {
  FrameHeaderSpec spec;
  spec.src_mac = kClientMac;
  spec.dst_mac = kServerMac;
  spec.source = Endpoint{address(kind.v6 ? kClient6 : kClient4), kClientPort};
  spec.destination = Endpoint{address(kind.v6 ? kServer6 : kServer4), kServerPort};
  spec.vlan = kind.vlan;
  return spec;
}

inline Bytes build_frame(const FrameKind& kind, std::span<const uint8_t> payload) {
  Bytes frame(udp_header_size(spec_for(kind)) + payload.size());
  auto built = build_udp_frame(frame, spec_for(kind), payload);
  if (!built.ok()) throw std::runtime_error(built.error().message());
  frame.resize(built.value());
  return frame;
}

inline void refresh_ipv4_checksum(Bytes& f, size_t l3) {
  const size_t header_len = static_cast<size_t>(f[l3] & 0x0f) * 4;
  set16(f, l3 + 10, 0);
  set16(f, l3 + 10, reference_checksum({f.data() + l3, header_len}));
}

// The UDP checksum of the datagram at layout.l4 (its length from its header)
// as a sender computes it: field taken as zero, 0 not yet replaced by 0xffff.
inline uint16_t reference_udp_checksum(const Bytes& f, const Layout& at) {
  const size_t udp_len = get16(f, at.l4 + 4);
  Bytes summed;
  const size_t address_len = at.v6 ? 16 : 4;
  const size_t src = at.l3 + (at.v6 ? 8 : 12);
  summed.insert(summed.end(), f.begin() + src, f.begin() + src + 2 * address_len);
  if (at.v6) {
    summed.insert(summed.end(), {0, 0, static_cast<uint8_t>(udp_len >> 8),
                                 static_cast<uint8_t>(udp_len), 0, 0, 0, kProtoUdp});
  } else {
    summed.insert(summed.end(), {0, kProtoUdp, static_cast<uint8_t>(udp_len >> 8),
                                 static_cast<uint8_t>(udp_len)});
  }
  const size_t pseudo_len = summed.size();
  summed.insert(summed.end(), f.begin() + at.l4, f.begin() + at.l4 + udp_len);
  summed[pseudo_len + 6] = 0;
  summed[pseudo_len + 7] = 0;
  return reference_checksum(summed);
}

inline void refresh_udp_checksum(Bytes& f, const Layout& at) {
  const uint16_t sum = reference_udp_checksum(f, at);
  set16(f, at.l4 + 6, sum == 0 ? 0xffff : sum);
}

// A copy of a frame that ends exactly where an inaccessible page begins, so
// that reading one byte past the frame faults instead of passing unnoticed.
class GuardedFrame {
 public:
  GuardedFrame() : page_(static_cast<size_t>(sysconf(_SC_PAGESIZE))) {
    void* p = mmap(nullptr, 2 * page_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::runtime_error("mmap of a guarded frame failed");
    base_ = static_cast<uint8_t*>(p);
    if (mprotect(base_ + page_, page_, PROT_NONE) != 0) {
      munmap(base_, 2 * page_);
      throw std::runtime_error("mprotect of the guard page failed");
    }
  }
  ~GuardedFrame() { munmap(base_, 2 * page_); }
  GuardedFrame(const GuardedFrame&) = delete;
  GuardedFrame& operator=(const GuardedFrame&) = delete;

  std::span<const uint8_t> place(std::span<const uint8_t> bytes) {
    if (bytes.size() > page_) throw std::length_error("frame larger than a page");
    uint8_t* start = base_ + page_ - bytes.size();
    if (!bytes.empty()) std::memcpy(start, bytes.data(), bytes.size());
    return {start, bytes.size()};
  }

 private:
  size_t page_;
  uint8_t* base_ = nullptr;
};

}  // namespace lrp::test
