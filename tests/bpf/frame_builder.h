// Crafted Ethernet frames for the XDP program tests. Headers are appended in
// order; build() fills in the lengths and the IPv4 header checksum from what
// was appended, then applies the overrides that make a frame inconsistent.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace lrp::test {

using Bytes = std::vector<uint8_t>;

// Addresses from the benchmarking ranges, as in the veth bench.
inline constexpr const char* kServer4 = "198.18.0.1";
inline constexpr const char* kClient4 = "198.18.0.2";
inline constexpr const char* kOther4 = "198.18.0.3";
inline constexpr const char* kServer6 = "2001:2::1";
inline constexpr const char* kClient6 = "2001:2::2";
inline constexpr const char* kOther6 = "2001:2::3";

// 16-byte form used by the flow key: IPv4 becomes ::ffff:a.b.c.d.
std::array<uint8_t, 16> addr16(const std::string& text);

inline constexpr uint16_t kEthIpv4 = 0x0800;
inline constexpr uint16_t kEthIpv6 = 0x86dd;
inline constexpr uint16_t kEthArp = 0x0806;
inline constexpr uint16_t kEthVlan = 0x8100;
inline constexpr uint16_t kEthQinQ = 0x88a8;

inline constexpr uint8_t kProtoHop = 0;
inline constexpr uint8_t kProtoIcmp = 1;
inline constexpr uint8_t kProtoTcp = 6;
inline constexpr uint8_t kProtoUdp = 17;
inline constexpr uint8_t kProtoRouting = 43;
inline constexpr uint8_t kProtoFragment = 44;
inline constexpr uint8_t kProtoIcmp6 = 58;
inline constexpr uint8_t kProtoDest = 60;

inline constexpr uint16_t kIpMoreFragments = 0x2000;
inline constexpr uint16_t kIpDontFragment = 0x4000;

class FrameBuilder {
 public:
  // Destination MAC defaults to a unicast address; ethertype is set by the
  // next header appended (or explicitly for non-IP frames).
  FrameBuilder& eth(uint16_t ethertype = 0, const std::array<uint8_t, 6>& dst = kUnicastMac);
  // inner: the tag's ethertype; 0 lets the next header appended set it.
  FrameBuilder& vlan(uint16_t tci, uint16_t tpid = kEthVlan, uint16_t inner = 0);
  // Options are appended after the 20-byte header; their length must be a
  // multiple of 4. The protocol byte defaults to UDP.
  FrameBuilder& ipv4(const std::string& src, const std::string& dst, uint8_t protocol = kProtoUdp,
                     const Bytes& options = {});
  FrameBuilder& ipv6(const std::string& src, const std::string& dst, uint8_t next = kProtoUdp);
  // A hop-by-hop, routing or destination options header of 8 * (hdrlen + 1) bytes.
  FrameBuilder& ipv6_ext(uint8_t next, uint8_t hdrlen = 0);
  FrameBuilder& ipv6_fragment(uint8_t next, uint16_t offset_units, bool more);
  FrameBuilder& udp(uint16_t src_port, uint16_t dst_port);
  FrameBuilder& bytes(const Bytes& data);
  FrameBuilder& payload(size_t n, uint8_t fill = 0xab);

  // Overrides applied after the lengths are filled in.
  FrameBuilder& ipv4_ihl(uint8_t ihl);
  FrameBuilder& ipv4_version(uint8_t version);
  FrameBuilder& ipv4_total_length(uint16_t total);
  FrameBuilder& ipv4_fragment(uint16_t offset_units, bool more, bool dont = false);
  FrameBuilder& ipv6_payload_length(uint16_t length);
  FrameBuilder& udp_length(uint16_t length);
  // Trailing bytes outside every header's length (Ethernet minimum-size padding).
  FrameBuilder& pad(size_t n);
  // Cuts the finished frame to n bytes.
  FrameBuilder& truncate(size_t n);

  Bytes build() const;

  static constexpr std::array<uint8_t, 6> kUnicastMac = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
  static constexpr std::array<uint8_t, 6> kBroadcastMac = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

 private:
  void set_ethertype(uint16_t type);

  Bytes bytes_;
  std::optional<size_t> ethertype_at_;  // where the last ethertype/TPID field is
  std::optional<size_t> ipv4_at_, ipv6_at_, udp_at_;
  std::optional<uint8_t> ihl_, version_;
  std::optional<uint16_t> total_length_, frag_, payload_length_, udp_length_;
  size_t pad_ = 0;
  std::optional<size_t> truncate_;
};

}  // namespace lrp::test
