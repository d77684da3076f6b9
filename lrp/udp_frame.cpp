#include "lrp/udp_frame.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

#include "lrp/checksum.h"

namespace lrp {

namespace {

constexpr size_t kEthHeader = 14;
constexpr size_t kVlanTag = 4;
constexpr size_t kIpv4Header = 20;
constexpr size_t kIpv6Header = 40;
constexpr size_t kUdpHeader = 8;
constexpr uint16_t kEthIpv4 = 0x0800;
constexpr uint16_t kEthIpv6 = 0x86dd;
constexpr uint16_t kEthVlan = 0x8100;
constexpr uint16_t kEthQinQ = 0x88a8;
constexpr int kMaxIpv6ExtHeaders = 8;

uint16_t load16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
void store16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}

struct IpLayer {
  IpAddress src, dst;
  size_t udp_offset = 0;  // from the frame start
  size_t udp_max = 0;     // bytes of IP payload available for UDP
};

// Returns a reason to drop, or Count when the IPv4 header is good.
DropReason parse_ipv4(std::span<const uint8_t> f, size_t l3, const ParseOptions& o,
                      IpLayer* ip) {
  if (f.size() < l3 + kIpv4Header) return DropReason::Truncated;
  const uint8_t* h = f.data() + l3;
  if (h[0] >> 4 != 4) return DropReason::BadIpHeader;
  const size_t ihl = static_cast<size_t>(h[0] & 0x0f) * 4;
  if (ihl < kIpv4Header) return DropReason::BadIpHeader;
  if (f.size() < l3 + ihl) return DropReason::Truncated;
  const size_t total = load16(h + 2);
  if (total < ihl || total > f.size() - l3) return DropReason::BadLength;
  if (o.verify_checksums && ipv4_header_checksum({h, ihl}) != 0) return DropReason::BadIpChecksum;
  const uint16_t frag = load16(h + 6);
  if ((frag & 0x2000) != 0 || (frag & 0x1fff) != 0) return DropReason::Fragment;
  if (h[9] != IPPROTO_UDP) return DropReason::NotUdp;
  ip->src = IpAddress::from_v4_bytes(h + 12);
  ip->dst = IpAddress::from_v4_bytes(h + 16);
  ip->udp_offset = l3 + ihl;
  ip->udp_max = total - ihl;
  return DropReason::Count;
}

DropReason parse_ipv6(std::span<const uint8_t> f, size_t l3, IpLayer* ip) {
  if (f.size() < l3 + kIpv6Header) return DropReason::Truncated;
  const uint8_t* h = f.data() + l3;
  if (h[0] >> 4 != 6) return DropReason::BadIpHeader;
  const size_t payload_len = load16(h + 4);
  if (payload_len > f.size() - l3 - kIpv6Header) return DropReason::BadLength;
  const size_t end = l3 + kIpv6Header + payload_len;
  uint8_t next = h[6];
  size_t off = l3 + kIpv6Header;
  for (int i = 0;; ++i) {
    if (next == IPPROTO_UDP) break;
    if (next == IPPROTO_FRAGMENT) return DropReason::Fragment;
    if (next != IPPROTO_HOPOPTS && next != IPPROTO_ROUTING && next != IPPROTO_DSTOPTS)
      return DropReason::NotUdp;
    if (i == kMaxIpv6ExtHeaders) return DropReason::Ipv6ExtUnsupported;
    if (off + 8 > end) return end > f.size() ? DropReason::Truncated : DropReason::BadLength;
    next = f[off];
    off += (static_cast<size_t>(f[off + 1]) + 1) * 8;
  }
  if (off > end) return DropReason::BadLength;
  ip->src = IpAddress::from_v6(*reinterpret_cast<const in6_addr*>(h + 8));
  ip->dst = IpAddress::from_v6(*reinterpret_cast<const in6_addr*>(h + 24));
  ip->udp_offset = off;
  ip->udp_max = end - off;
  return DropReason::Count;
}

}  // namespace

const char* to_string(DropReason reason) {
  switch (reason) {
    case DropReason::Truncated:
      return "truncated";
    case DropReason::NotIp:
      return "not_ip";
    case DropReason::NotUdp:
      return "not_udp";
    case DropReason::BadIpHeader:
      return "bad_ip_header";
    case DropReason::BadIpChecksum:
      return "bad_ip_checksum";
    case DropReason::BadLength:
      return "bad_length";
    case DropReason::Fragment:
      return "fragment";
    case DropReason::BadUdpLength:
      return "bad_udp_length";
    case DropReason::BadUdpChecksum:
      return "bad_udp_checksum";
    case DropReason::ZeroUdpChecksumV6:
      return "zero_udp_checksum_v6";
    case DropReason::Ipv6ExtUnsupported:
      return "ipv6_ext_unsupported";
    case DropReason::Count:
      break;
  }
  return "unknown";
}

ParseResult parse_udp_frame(std::span<const uint8_t> f, const ParseOptions& o) {
  if (f.size() < kEthHeader) return DropReason::Truncated;
  size_t l3 = kEthHeader;
  uint16_t type = load16(f.data() + 12);
  uint16_t vlan = 0;
  if (type == kEthVlan || type == kEthQinQ) {
    if (f.size() < kEthHeader + kVlanTag) return DropReason::Truncated;
    vlan = load16(f.data() + 14) & 0x0fff;
    type = load16(f.data() + 16);
    l3 += kVlanTag;
  }
  IpLayer ip;
  DropReason why;
  if (type == kEthIpv4) {
    why = parse_ipv4(f, l3, o, &ip);
  } else if (type == kEthIpv6) {
    why = parse_ipv6(f, l3, &ip);
  } else {
    return DropReason::NotIp;
  }
  if (why != DropReason::Count) return why;
  if (ip.udp_max < kUdpHeader) return DropReason::BadUdpLength;
  const uint8_t* u = f.data() + ip.udp_offset;
  const size_t udp_len = load16(u + 4);
  if (udp_len < kUdpHeader || udp_len > ip.udp_max) return DropReason::BadUdpLength;
  const uint16_t sum = load16(u + 6);
  if (sum == 0 && !ip.src.is_v4()) return DropReason::ZeroUdpChecksumV6;
  // On IPv4 a zero checksum means the sender computed none.
  if (o.verify_checksums && sum != 0 && udp_checksum(ip.src, ip.dst, {u, udp_len}) != 0)
    return DropReason::BadUdpChecksum;
  DatagramView view;
  view.source = Endpoint{ip.src, load16(u)};
  view.destination = Endpoint{ip.dst, load16(u + 2)};
  view.payload = f.subspan(ip.udp_offset + kUdpHeader, udp_len - kUdpHeader);
  view.vlan = vlan;
  return view;
}

size_t udp_header_size(const FrameHeaderSpec& spec) {
  return kEthHeader + (spec.vlan != 0 ? kVlanTag : 0) +
         (spec.source.addr.is_v4() ? kIpv4Header : kIpv6Header) + kUdpHeader;
}

Result<size_t> write_udp_headers(std::span<uint8_t> frame, const FrameHeaderSpec& spec,
                                 size_t payload_len) {
  const bool v4 = spec.source.addr.is_v4();
  if (v4 != spec.destination.addr.is_v4())
    return make_error(EAFNOSUPPORT, "send from " + spec.source.addr.to_string() + " to " +
                                        spec.destination.addr.to_string() +
                                        ": address families differ");
  const size_t headers = udp_header_size(spec);
  const size_t udp_len = kUdpHeader + payload_len;
  if (headers + payload_len > frame.size() || udp_len > 0xffff ||
      (v4 && udp_len + kIpv4Header > 0xffff))
    return make_error(EMSGSIZE, "datagram of " + std::to_string(payload_len) +
                                    " bytes does not fit a frame of " +
                                    std::to_string(frame.size()) + " bytes");
  uint8_t* p = frame.data();
  std::memcpy(p, spec.dst_mac.data(), 6);
  std::memcpy(p + 6, spec.src_mac.data(), 6);
  size_t off = 12;
  if (spec.vlan != 0) {
    store16(p + off, kEthVlan);
    store16(p + off + 2, spec.vlan & 0x0fff);
    off += kVlanTag;
  }
  store16(p + off, v4 ? kEthIpv4 : kEthIpv6);
  off += 2;
  uint8_t* ip = p + off;
  if (v4) {
    std::memset(ip, 0, kIpv4Header);
    ip[0] = 0x45;
    store16(ip + 2, static_cast<uint16_t>(kIpv4Header + udp_len));
    store16(ip + 6, 0x4000);  // don't fragment
    ip[8] = spec.ttl;
    ip[9] = IPPROTO_UDP;
    std::memcpy(ip + 12, spec.source.addr.v4_bytes(), 4);
    std::memcpy(ip + 16, spec.destination.addr.v4_bytes(), 4);
    store16(ip + 10, ipv4_header_checksum({ip, kIpv4Header}));
    off += kIpv4Header;
  } else {
    std::memset(ip, 0, kIpv6Header);
    ip[0] = 0x60;
    store16(ip + 4, static_cast<uint16_t>(udp_len));
    ip[6] = IPPROTO_UDP;
    ip[7] = spec.ttl;
    std::memcpy(ip + 8, spec.source.addr.bytes().data(), 16);
    std::memcpy(ip + 24, spec.destination.addr.bytes().data(), 16);
    off += kIpv6Header;
  }
  uint8_t* udp = p + off;
  store16(udp, spec.source.port);
  store16(udp + 2, spec.destination.port);
  store16(udp + 4, static_cast<uint16_t>(udp_len));
  store16(udp + 6, 0);
  uint16_t sum = udp_checksum(spec.source.addr, spec.destination.addr, {udp, udp_len});
  // A computed zero is sent as all ones; zero means "no checksum".
  store16(udp + 6, sum == 0 ? 0xffff : sum);
  return headers + payload_len;
}

Result<size_t> build_udp_frame(std::span<uint8_t> out, const FrameHeaderSpec& spec,
                               std::span<const uint8_t> payload) {
  const size_t headers = udp_header_size(spec);
  if (headers + payload.size() > out.size())
    return make_error(EMSGSIZE, "datagram of " + std::to_string(payload.size()) +
                                    " bytes does not fit a frame of " +
                                    std::to_string(out.size()) + " bytes");
  // memmove: the payload may already sit inside `out` (zero-copy send).
  std::memmove(out.data() + headers, payload.data(), payload.size());
  return write_udp_headers(out, spec, payload.size());
}

}  // namespace lrp
