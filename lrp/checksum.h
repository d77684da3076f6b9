// The Internet checksum (RFC 1071) and its uses in IPv4 and UDP.
// Every 16-bit value here (sums, checksums, fields) is in host order: the
// value of the big-endian field, e.g. 0x220d for the bytes 22 0d.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace lrp {

// A running ones' complement sum over a byte stream added in pieces of any
// length. A piece that starts at an odd offset of the stream is byte-swapped
// into place (RFC 1071 section 2B), so pieces need not be 16-bit aligned.
class ChecksumAccumulator {
 public:
  void add(std::span<const uint8_t> bytes);
  // A big-endian 16- or 32-bit field, given in host order.
  void add_u16(uint16_t value);
  void add_u32(uint32_t value);

  // The ones' complement sum folded to 16 bits; 0xffff over data that
  // includes a correct checksum.
  uint16_t folded() const;
  // The checksum to store in the field: the complement of the sum.
  uint16_t checksum() const { return static_cast<uint16_t>(~folded()); }

 private:
  uint64_t sum_ = 0;  // words as loaded natively; swapped to host order by folded()
  bool odd_ = false;  // bytes added so far is odd
};

// Folds a 64-bit ones' complement partial sum to 16 bits (no complement).
// Byte order is kept: a sum of native-order words folds to a native-order value.
// Inline: every datagram's checksum ends in one, from several files.
inline uint16_t checksum_fold(uint64_t sum) {
  sum = (sum & 0xffffffff) + (sum >> 32);
  sum = (sum & 0xffffffff) + (sum >> 32);
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}

// The checksum of a contiguous buffer.
uint16_t internet_checksum(std::span<const uint8_t> bytes);

// Pseudo headers of RFC 768 (IPv4) and RFC 8200 section 8.1 (IPv6).
void add_ipv4_pseudo_header(ChecksumAccumulator& acc, std::span<const uint8_t, 4> src,
                            std::span<const uint8_t, 4> dst, uint8_t protocol, uint16_t length);
void add_ipv6_pseudo_header(ChecksumAccumulator& acc, std::span<const uint8_t, 16> src,
                            std::span<const uint8_t, 16> dst, uint8_t next_header, uint32_t length);

// The IPv4 header checksum to store, computed as if its field were zero.
// header: the whole header including options (IHL * 4 bytes).
uint16_t ipv4_header_checksum(std::span<const uint8_t> header);
// The header, including its checksum field, sums to 0xffff.
bool ipv4_header_checksum_ok(std::span<const uint8_t> header);

// The UDP checksum to transmit for datagram (UDP header and payload, at
// least 8 bytes), computed as if its field were zero. A result of 0 is
// returned as 0xffff, since 0 on the wire means "no checksum".
uint16_t udp_checksum_ipv4(std::span<const uint8_t, 4> src, std::span<const uint8_t, 4> dst,
                           std::span<const uint8_t> datagram);
uint16_t udp_checksum_ipv6(std::span<const uint8_t, 16> src, std::span<const uint8_t, 16> dst,
                           std::span<const uint8_t> datagram);
// The datagram with its transmitted (non-zero) checksum sums to 0xffff.
// Accepts both 0xffff and 0 for a computed checksum of 0.
bool udp_checksum_ok_ipv4(std::span<const uint8_t, 4> src, std::span<const uint8_t, 4> dst,
                          std::span<const uint8_t> datagram);
bool udp_checksum_ok_ipv6(std::span<const uint8_t, 16> src, std::span<const uint8_t, 16> dst,
                          std::span<const uint8_t> datagram);

// A partial UDP checksum: what a sender that leaves the checksum to the
// device (Linux CHECKSUM_PARTIAL, as a local sender on veth does) stores in
// the field: the folded pseudo-header sum, not complemented, for a datagram
// of udp_length bytes. Never 0.
uint16_t udp_partial_checksum_ipv4(std::span<const uint8_t, 4> src, std::span<const uint8_t, 4> dst,
                                   uint16_t udp_length);
uint16_t udp_partial_checksum_ipv6(std::span<const uint8_t, 16> src,
                                   std::span<const uint8_t, 16> dst, uint32_t udp_length);

}  // namespace lrp
