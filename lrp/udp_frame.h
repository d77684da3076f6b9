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

// Why a frame was rejected; the names are metric labels.
enum class DropReason : uint8_t {
  Truncated,
  NotIp,
  NotUdp,
  BadIpHeader,
  BadIpChecksum,
  BadLength,
  Fragment,
  BadUdpLength,
  BadUdpChecksum,
  ZeroUdpChecksumV6,
  Ipv6ExtUnsupported,
  Count,
};
const char* to_string(DropReason reason);

struct DatagramView {
  Endpoint source;
  Endpoint destination;
  std::span<const uint8_t> payload;
  uint16_t vlan = 0;  // 0: untagged
};

struct ParseOptions {
  bool verify_checksums = true;
};

class ParseResult {
 public:
  ParseResult(const DatagramView& view) : view_(view), ok_(true) {}
  ParseResult(DropReason reason) : reason_(reason) {}
  bool ok() const { return ok_; }
  const DatagramView& view() const { return view_; }
  DropReason reason() const { return reason_; }

 private:
  DatagramView view_{};
  DropReason reason_ = DropReason::Count;
  bool ok_ = false;
};

ParseResult parse_udp_frame(std::span<const uint8_t> frame, const ParseOptions& options);

struct FrameHeaderSpec {
  std::array<uint8_t, 6> src_mac{};
  std::array<uint8_t, 6> dst_mac{};
  Endpoint source;
  Endpoint destination;
  uint16_t vlan = 0;
  uint8_t ttl = 64;
};

// Bytes of Ethernet [+VLAN] + IP + UDP headers for the spec.
size_t udp_header_size(const FrameHeaderSpec& spec);
// Writes a whole frame; returns its length.
Result<size_t> build_udp_frame(std::span<uint8_t> out, const FrameHeaderSpec& spec,
                               std::span<const uint8_t> payload);
// Writes the headers in front of a payload already at frame[udp_header_size(spec)].
Result<size_t> write_udp_headers(std::span<uint8_t> frame, const FrameHeaderSpec& spec,
                                 size_t payload_len);

}  // namespace lrp
