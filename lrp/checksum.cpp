#include "lrp/checksum.h"

#include <netinet/in.h>

#include <bit>
#include <cstring>

namespace lrp {

namespace {

constexpr size_t kIpv4ChecksumOffset = 10;
constexpr size_t kUdpChecksumOffset = 6;

// Ones' complement addition in 64 bits: the carry out wraps around.
inline uint64_t add_with_carry(uint64_t sum, uint64_t word) {
  sum += word;
  return sum + (sum < word);
}

template <class T>
inline T load_native(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

// Sums the bytes as native-order words. Since 2^16 = 1 modulo 2^16 - 1, a
// sum over 64-bit words folds to the same value as one over 16-bit words;
// in native order it is the byte-swapped sum on little-endian machines,
// which folded() swaps back (RFC 1071 section 2B).
uint64_t sum_native_words(const uint8_t* p, size_t n) {
  uint64_t a = 0, b = 0;  // two chains so the carries do not serialise
  for (; n >= 32; p += 32, n -= 32) {
    a = add_with_carry(a, load_native<uint64_t>(p));
    b = add_with_carry(b, load_native<uint64_t>(p + 8));
    a = add_with_carry(a, load_native<uint64_t>(p + 16));
    b = add_with_carry(b, load_native<uint64_t>(p + 24));
  }
  uint64_t sum = add_with_carry(a, b);
  for (; n >= 8; p += 8, n -= 8) sum = add_with_carry(sum, load_native<uint64_t>(p));
  if (n >= 4) {
    sum = add_with_carry(sum, load_native<uint32_t>(p));
    p += 4;
    n -= 4;
  }
  if (n >= 2) {
    sum = add_with_carry(sum, load_native<uint16_t>(p));
    p += 2;
    n -= 2;
  }
  if (n == 1) {
    // A last odd byte is the high half of a word padded with zero.
    const uint8_t padded[2] = {p[0], 0};
    sum = add_with_carry(sum, load_native<uint16_t>(padded));
  }
  return sum;
}

inline uint16_t swap_bytes(uint16_t v) {
  return static_cast<uint16_t>(v << 8 | v >> 8);
}

inline uint16_t native_to_host(uint16_t v) {
  return std::endian::native == std::endian::little ? swap_bytes(v) : v;
}

uint16_t transmitted_udp_checksum(const ChecksumAccumulator& acc) {
  const uint16_t sum = acc.checksum();
  return sum == 0 ? 0xffff : sum;
}

void add_skipping_field(ChecksumAccumulator& acc, std::span<const uint8_t> bytes,
                        size_t field_offset) {
  acc.add(bytes.first(field_offset));
  acc.add(bytes.subspan(field_offset + 2));
}

}  // namespace

void ChecksumAccumulator::add(std::span<const uint8_t> bytes) {
  if (bytes.empty()) return;
  uint16_t piece = checksum_fold(sum_native_words(bytes.data(), bytes.size()));
  // After an odd number of bytes this piece's words straddle the stream's.
  if (odd_) piece = swap_bytes(piece);
  sum_ += piece;  // at most 2^48 pieces before this could overflow
  odd_ = odd_ != ((bytes.size() & 1) != 0);
}

void ChecksumAccumulator::add_u16(uint16_t value) {
  const uint8_t be[2] = {static_cast<uint8_t>(value >> 8), static_cast<uint8_t>(value)};
  add(be);
}

void ChecksumAccumulator::add_u32(uint32_t value) {
  const uint8_t be[4] = {static_cast<uint8_t>(value >> 24), static_cast<uint8_t>(value >> 16),
                         static_cast<uint8_t>(value >> 8), static_cast<uint8_t>(value)};
  add(be);
}

uint16_t ChecksumAccumulator::folded() const {
  return native_to_host(checksum_fold(sum_));
}

uint16_t internet_checksum(std::span<const uint8_t> bytes) {
  ChecksumAccumulator acc;
  acc.add(bytes);
  return acc.checksum();
}

void add_ipv4_pseudo_header(ChecksumAccumulator& acc, std::span<const uint8_t, 4> src,
                            std::span<const uint8_t, 4> dst, uint8_t protocol, uint16_t length) {
  uint8_t pseudo[12];
  std::memcpy(pseudo, src.data(), 4);
  std::memcpy(pseudo + 4, dst.data(), 4);
  pseudo[8] = 0;
  pseudo[9] = protocol;
  pseudo[10] = static_cast<uint8_t>(length >> 8);
  pseudo[11] = static_cast<uint8_t>(length);
  acc.add(pseudo);
}

void add_ipv6_pseudo_header(ChecksumAccumulator& acc, std::span<const uint8_t, 16> src,
                            std::span<const uint8_t, 16> dst, uint8_t next_header,
                            uint32_t length) {
  uint8_t pseudo[40];
  std::memcpy(pseudo, src.data(), 16);
  std::memcpy(pseudo + 16, dst.data(), 16);
  pseudo[32] = static_cast<uint8_t>(length >> 24);
  pseudo[33] = static_cast<uint8_t>(length >> 16);
  pseudo[34] = static_cast<uint8_t>(length >> 8);
  pseudo[35] = static_cast<uint8_t>(length);
  pseudo[36] = pseudo[37] = pseudo[38] = 0;
  pseudo[39] = next_header;
  acc.add(pseudo);
}

uint16_t ipv4_header_checksum(std::span<const uint8_t> header) {
  ChecksumAccumulator acc;
  add_skipping_field(acc, header, kIpv4ChecksumOffset);
  return acc.checksum();
}

bool ipv4_header_checksum_ok(std::span<const uint8_t> header) {
  ChecksumAccumulator acc;
  acc.add(header);
  return acc.folded() == 0xffff;
}

uint16_t udp_checksum_ipv4(std::span<const uint8_t, 4> src, std::span<const uint8_t, 4> dst,
                           std::span<const uint8_t> datagram) {
  ChecksumAccumulator acc;
  add_ipv4_pseudo_header(acc, src, dst, IPPROTO_UDP, static_cast<uint16_t>(datagram.size()));
  add_skipping_field(acc, datagram, kUdpChecksumOffset);
  return transmitted_udp_checksum(acc);
}

uint16_t udp_checksum_ipv6(std::span<const uint8_t, 16> src, std::span<const uint8_t, 16> dst,
                           std::span<const uint8_t> datagram) {
  ChecksumAccumulator acc;
  add_ipv6_pseudo_header(acc, src, dst, IPPROTO_UDP, static_cast<uint32_t>(datagram.size()));
  add_skipping_field(acc, datagram, kUdpChecksumOffset);
  return transmitted_udp_checksum(acc);
}

bool udp_checksum_ok_ipv4(std::span<const uint8_t, 4> src, std::span<const uint8_t, 4> dst,
                          std::span<const uint8_t> datagram) {
  ChecksumAccumulator acc;
  add_ipv4_pseudo_header(acc, src, dst, IPPROTO_UDP, static_cast<uint16_t>(datagram.size()));
  acc.add(datagram);
  return acc.folded() == 0xffff;
}

bool udp_checksum_ok_ipv6(std::span<const uint8_t, 16> src, std::span<const uint8_t, 16> dst,
                          std::span<const uint8_t> datagram) {
  ChecksumAccumulator acc;
  add_ipv6_pseudo_header(acc, src, dst, IPPROTO_UDP, static_cast<uint32_t>(datagram.size()));
  acc.add(datagram);
  return acc.folded() == 0xffff;
}

uint16_t udp_partial_checksum_ipv4(std::span<const uint8_t, 4> src, std::span<const uint8_t, 4> dst,
                                   uint16_t udp_length) {
  ChecksumAccumulator acc;
  add_ipv4_pseudo_header(acc, src, dst, IPPROTO_UDP, udp_length);
  return acc.folded();
}

uint16_t udp_partial_checksum_ipv6(std::span<const uint8_t, 16> src,
                                   std::span<const uint8_t, 16> dst, uint32_t udp_length) {
  ChecksumAccumulator acc;
  add_ipv6_pseudo_header(acc, src, dst, IPPROTO_UDP, udp_length);
  return acc.folded();
}

}  // namespace lrp
