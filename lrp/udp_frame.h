// UDP protocol work on raw Ethernet frames: validating a received frame into
// a datagram view, and writing the headers of a frame to send. No allocation,
// no exceptions: this is the per-packet path.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "lrp/ip_address.h"
#include "lrp/result.h"

namespace lrp {

// Why a received frame was rejected; to_string() gives the metric label.
enum class DropReason : uint8_t {
  Truncated,      // the frame ends before a header or the IP packet it declares
  NotIp,          // neither IPv4 nor IPv6, or more than one VLAN tag
  NotUdp,         // IP, but the upper layer protocol is not UDP
  BadIpHeader,    // wrong version, IHL < 5, hop-by-hop header not first, IPv4-mapped IPv6 address
  BadIpChecksum,  // IPv4 header checksum
  BadLength,      // IP length too short for its headers and a UDP header
  Fragment,       // IPv4 MF/offset, or an IPv6 fragment header
  BadUdpLength,   // UDP length < 8 or beyond the IP payload
  BadUdpChecksum,
  ZeroUdpChecksumV6,   // RFC 8200 section 8.1: IPv6 UDP must carry a checksum
  Ipv6ExtUnsupported,  // more than 8 extension headers, or AH, ESP, mobility...
  Count,
};
const char* to_string(DropReason reason);

// A valid datagram; payload points into the frame it was parsed from.
struct DatagramView {
  Endpoint source;
  Endpoint destination;
  std::span<const uint8_t> payload;
  uint16_t vlan = 0;  // VLAN ID of the tag; 0 when untagged
  uint8_t tos = 0;    // IPv4 TOS byte, IPv6 traffic class (DSCP and ECN)
  uint8_t ttl = 0;    // IPv4 TTL, IPv6 hop limit
};

struct ParseOptions {
  // Off: neither the IPv4 header nor the UDP checksum is checked (a zero
  // IPv6 UDP checksum is still rejected: that is a protocol rule).
  bool verify_checksums = true;
  // Also accept a UDP checksum field that holds exactly the datagram's
  // pseudo-header sum: the partial checksum a local sender leaves when the
  // device is to finish it (CHECKSUM_PARTIAL), which is what arrives over a
  // veth at its default offloads. The kernel trusts such datagrams without
  // a check; turn this on only for devices whose frames can come from a
  // local sender that way (driver_may_pass_partial_checksums in netdev.h).
  // Any other wrong checksum is still BadUdpChecksum.
  bool accept_partial_checksum = false;
};

// A datagram view or the reason the frame was dropped.
class ParseResult {
 public:
  ParseResult(const DatagramView& view, bool partial_checksum = false)
      : view_(view), ok_(true), partial_checksum_(partial_checksum) {}
  ParseResult(DropReason reason) : reason_(reason) {}

  bool ok() const { return ok_; }
  const DatagramView& view() const { return view_; }  // only when ok()
  DropReason reason() const { return reason_; }       // only when !ok()
  // Accepted on a partial checksum (ParseOptions::accept_partial_checksum):
  // valid, but its payload was never checksummed; counted apart.
  bool partial_checksum() const { return partial_checksum_; }

 private:
  DatagramView view_{};
  DropReason reason_ = DropReason::Count;
  bool ok_ = false;
  bool partial_checksum_ = false;
};

// Ethernet with at most one 802.1Q or 802.1ad tag, then IPv4 (options
// allowed) or IPv6 (hop-by-hop, routing and destination options headers
// skipped), then UDP. Bytes after the IP packet (Ethernet padding) are ignored.
ParseResult parse_udp_frame(std::span<const uint8_t> frame, const ParseOptions& options);

struct FrameHeaderSpec {
  std::array<uint8_t, 6> src_mac{};
  std::array<uint8_t, 6> dst_mac{};
  Endpoint source;  // both of one family
  Endpoint destination;
  uint16_t vlan = 0;  // VLAN ID (1..4095) for an 802.1Q tag; 0: untagged
  uint8_t ttl = 64;   // IPv4 TTL or IPv6 hop limit
};

// Bytes of Ethernet [+ VLAN] + IP + UDP headers for the spec: where the
// payload starts in the frame.
size_t udp_header_size(const FrameHeaderSpec& spec);

// Writes a whole frame (headers, then a copy of payload) into out; returns
// its length. payload may already be in place inside out.
Result<size_t> build_udp_frame(std::span<uint8_t> out, const FrameHeaderSpec& spec,
                               std::span<const uint8_t> payload);

// Writes the headers in front of a payload already at
// frame[udp_header_size(spec)], for zero-copy send; returns the frame length.
Result<size_t> write_udp_headers(std::span<uint8_t> frame, const FrameHeaderSpec& spec,
                                 size_t payload_len);

// Whether a frame for spec and a payload of payload_len can be built into
// `capacity` bytes: EMSGSIZE above the IP maximum or the capacity,
// EAFNOSUPPORT for mixed families, EINVAL for a bad VLAN ID.
Status check_udp_frame(const FrameHeaderSpec& spec, size_t payload_len, size_t capacity);

// build_udp_frame for a spec and payload that passed check_udp_frame with
// out.size() as the capacity (the transmit path checks each datagram once,
// before it takes frames for them); returns the frame's length.
size_t build_checked_udp_frame(std::span<uint8_t> out, const FrameHeaderSpec& spec,
                               std::span<const uint8_t> payload);

// Writes a whole frame across several buffers (the descriptors of an
// AF_XDP multi-buffer frame): each filled in turn, the headers in the first.
// lengths[i] gets the bytes written to segments[i]; returns how many
// segments were used. EMSGSIZE when they cannot hold it.
Result<size_t> build_udp_frame_split(std::span<const std::span<uint8_t>> segments,
                                     const FrameHeaderSpec& spec, std::span<const uint8_t> payload,
                                     std::span<uint32_t> lengths);

}  // namespace lrp
