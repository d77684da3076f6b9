#include "lrp/udp_frame.h"

#include <netinet/in.h>

#include <cstring>
#include <optional>
#include <string>

#include "lrp/checksum.h"

namespace lrp {

namespace {

constexpr size_t kEthHeader = 14;
constexpr size_t kEthTypeOffset = 12;
constexpr size_t kVlanTag = 4;
constexpr size_t kIpv4Header = 20;
constexpr size_t kIpv6Header = 40;
constexpr size_t kIpv6ExtMin = 8;
constexpr size_t kUdpHeader = 8;
constexpr size_t kMaxIpPacket = 0xffff;

constexpr uint16_t kEthIpv4 = 0x0800;
constexpr uint16_t kEthIpv6 = 0x86dd;
constexpr uint16_t kEthVlan = 0x8100;
constexpr uint16_t kEthQinQ = 0x88a8;
constexpr uint16_t kVlanIdMask = 0x0fff;

constexpr uint16_t kIpv4DontFragment = 0x4000;
constexpr uint16_t kIpv4MoreFragments = 0x2000;
constexpr uint16_t kIpv4OffsetMask = 0x1fff;

constexpr int kMaxIpv6ExtHeaders = 8;

// Frames are byte buffers at any alignment: read and write fields bytewise.
inline uint16_t load_be16(const uint8_t* p) {
  return static_cast<uint16_t>(p[0] << 8 | p[1]);
}

inline void store_be16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}

// What the IP layer tells the UDP layer.
struct IpLayer {
  bool v4 = true;
  const uint8_t* src = nullptr;  // address bytes in the frame
  const uint8_t* dst = nullptr;
  size_t udp_offset = 0;  // from the frame start
  size_t udp_room = 0;    // bytes of IP payload from udp_offset on
  uint8_t tos = 0;        // IPv4 TOS, IPv6 traffic class
  uint8_t ttl = 0;        // IPv4 TTL, IPv6 hop limit
};

// The IPv4 or IPv6 ethertype after at most one VLAN tag.
struct LinkLayer {
  uint16_t ethertype = 0;
  uint16_t vlan = 0;
  size_t l3_offset = kEthHeader;
};

std::optional<DropReason> parse_ethernet(std::span<const uint8_t> f, LinkLayer* link) {
  if (f.size() < kEthHeader) return DropReason::Truncated;
  link->ethertype = load_be16(f.data() + kEthTypeOffset);
  if (link->ethertype == kEthVlan || link->ethertype == kEthQinQ) {
    if (f.size() < kEthHeader + kVlanTag) return DropReason::Truncated;
    link->vlan = load_be16(f.data() + kEthHeader) & kVlanIdMask;
    link->ethertype = load_be16(f.data() + kEthHeader + 2);
    link->l3_offset += kVlanTag;
  }
  // A second tag (QinQ) lands here too: not ours to unwrap.
  if (link->ethertype != kEthIpv4 && link->ethertype != kEthIpv6) return DropReason::NotIp;
  return std::nullopt;
}

std::optional<DropReason> parse_ipv4(std::span<const uint8_t> f, size_t l3,
                                     const ParseOptions& options, IpLayer* ip) {
  if (f.size() - l3 < kIpv4Header) return DropReason::Truncated;
  const uint8_t* h = f.data() + l3;
  if (h[0] >> 4 != 4) return DropReason::BadIpHeader;
  const size_t header_len = static_cast<size_t>(h[0] & 0x0f) * 4;
  if (header_len < kIpv4Header) return DropReason::BadIpHeader;
  if (f.size() - l3 < header_len) return DropReason::Truncated;
  if (options.verify_checksums && !ipv4_header_checksum_ok({h, header_len})) {
    return DropReason::BadIpChecksum;
  }
  const size_t total_len = load_be16(h + 2);
  if (total_len > f.size() - l3) return DropReason::Truncated;
  if (total_len < header_len) return DropReason::BadLength;
  const uint16_t fragment = load_be16(h + 6);
  if ((fragment & (kIpv4MoreFragments | kIpv4OffsetMask)) != 0) return DropReason::Fragment;
  if (h[9] != IPPROTO_UDP) return DropReason::NotUdp;
  if (total_len < header_len + kUdpHeader) return DropReason::BadLength;
  ip->v4 = true;
  ip->src = h + 12;
  ip->dst = h + 16;
  ip->udp_offset = l3 + header_len;
  ip->udp_room = total_len - header_len;
  ip->tos = h[1];
  ip->ttl = h[8];
  return std::nullopt;
}

bool is_v4_mapped(const uint8_t* address) {
  static constexpr uint8_t kPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return std::memcmp(address, kPrefix, sizeof(kPrefix)) == 0;
}

bool is_skippable_ipv6_ext(uint8_t next) {
  return next == IPPROTO_HOPOPTS || next == IPPROTO_ROUTING || next == IPPROTO_DSTOPTS;
}

// Extension headers we recognise but do not walk: UDP may hide behind them.
bool is_unsupported_ipv6_ext(uint8_t next) {
  constexpr uint8_t kMobility = 135, kHip = 139, kShim6 = 140, kExperiment1 = 253,
                    kExperiment2 = 254;
  return next == IPPROTO_AH || next == IPPROTO_ESP || next == kMobility || next == kHip ||
         next == kShim6 || next == kExperiment1 || next == kExperiment2;
}

// Walks the extension headers from offset to end (the end of the IPv6
// payload); on success offset is the UDP header's.
std::optional<DropReason> skip_ipv6_extensions(std::span<const uint8_t> f, uint8_t next, size_t end,
                                               size_t* offset) {
  for (int walked = 0; next != IPPROTO_UDP; ++walked) {
    if (next == IPPROTO_FRAGMENT) return DropReason::Fragment;
    if (is_unsupported_ipv6_ext(next)) return DropReason::Ipv6ExtUnsupported;
    if (!is_skippable_ipv6_ext(next)) return DropReason::NotUdp;
    if (walked == kMaxIpv6ExtHeaders) return DropReason::Ipv6ExtUnsupported;
    // RFC 8200 section 4.1: hop-by-hop options only right after the header.
    if (next == IPPROTO_HOPOPTS && walked != 0) return DropReason::BadIpHeader;
    if (end - *offset < kIpv6ExtMin) return DropReason::BadLength;
    const size_t ext_len = (static_cast<size_t>(f[*offset + 1]) + 1) * 8;
    if (end - *offset < ext_len) return DropReason::BadLength;
    next = f[*offset];
    *offset += ext_len;
  }
  return std::nullopt;
}

std::optional<DropReason> parse_ipv6(std::span<const uint8_t> f, size_t l3, IpLayer* ip) {
  if (f.size() - l3 < kIpv6Header) return DropReason::Truncated;
  const uint8_t* h = f.data() + l3;
  if (h[0] >> 4 != 6) return DropReason::BadIpHeader;
  // RFC 4291 section 2.5.5.2: IPv4-mapped addresses never appear in an IPv6
  // header. Accepting one would make an IPv6 peer look like an IPv4 one (the
  // two share IpAddress's form), and a reply would leave as IPv4.
  if (is_v4_mapped(h + 8) || is_v4_mapped(h + 24)) return DropReason::BadIpHeader;
  const size_t payload_len = load_be16(h + 4);
  if (payload_len > f.size() - l3 - kIpv6Header) return DropReason::Truncated;
  const size_t end = l3 + kIpv6Header + payload_len;
  size_t udp_offset = l3 + kIpv6Header;
  if (auto why = skip_ipv6_extensions(f, h[6], end, &udp_offset)) return why;
  if (end - udp_offset < kUdpHeader) return DropReason::BadLength;
  ip->v4 = false;
  ip->src = h + 8;
  ip->dst = h + 24;
  ip->udp_offset = udp_offset;
  ip->udp_room = end - udp_offset;
  // Traffic class: the 8 bits after the version nibble.
  ip->tos = static_cast<uint8_t>((h[0] & 0x0f) << 4 | h[1] >> 4);
  ip->ttl = h[7];
  return std::nullopt;
}

bool udp_checksum_ok(const IpLayer& ip, std::span<const uint8_t> datagram) {
  if (ip.v4) {
    return udp_checksum_ok_ipv4(std::span<const uint8_t, 4>(ip.src, 4),
                                std::span<const uint8_t, 4>(ip.dst, 4), datagram);
  }
  return udp_checksum_ok_ipv6(std::span<const uint8_t, 16>(ip.src, 16),
                              std::span<const uint8_t, 16>(ip.dst, 16), datagram);
}

bool udp_checksum_partial(const IpLayer& ip, uint16_t transmitted, size_t udp_len) {
  if (ip.v4) {
    return transmitted == udp_partial_checksum_ipv4(std::span<const uint8_t, 4>(ip.src, 4),
                                                    std::span<const uint8_t, 4>(ip.dst, 4),
                                                    static_cast<uint16_t>(udp_len));
  }
  return transmitted == udp_partial_checksum_ipv6(std::span<const uint8_t, 16>(ip.src, 16),
                                                  std::span<const uint8_t, 16>(ip.dst, 16),
                                                  static_cast<uint32_t>(udp_len));
}

std::optional<DropReason> check_udp(std::span<const uint8_t> f, const IpLayer& ip,
                                    const ParseOptions& options, size_t* udp_len, bool* partial) {
  const uint8_t* u = f.data() + ip.udp_offset;
  *udp_len = load_be16(u + 4);
  // Bytes between the UDP length and the IP length are ignored, as Linux does.
  if (*udp_len < kUdpHeader || *udp_len > ip.udp_room) return DropReason::BadUdpLength;
  const uint16_t transmitted = load_be16(u + 6);
  if (transmitted == 0) {
    // IPv4 allows a sender to compute no checksum; IPv6 does not.
    return ip.v4 ? std::nullopt : std::optional(DropReason::ZeroUdpChecksumV6);
  }
  if (!options.verify_checksums) return std::nullopt;
  // The partial form first: it costs the pseudo header only, and it is what
  // every datagram from a local sender on veth carries. (A full checksum
  // that happens to equal the pseudo-header sum is counted as partial; it is
  // accepted either way.)
  if (options.accept_partial_checksum && udp_checksum_partial(ip, transmitted, *udp_len)) {
    *partial = true;
    return std::nullopt;
  }
  if (!udp_checksum_ok(ip, {u, *udp_len})) return DropReason::BadUdpChecksum;
  return std::nullopt;
}

IpAddress address_at(const uint8_t* p, bool v4) {
  return v4 ? IpAddress::from_v4_bytes(p) : IpAddress::from_v6_bytes(p);
}

Status check_spec(const FrameHeaderSpec& spec) {
  if (spec.source.addr.is_v4() != spec.destination.addr.is_v4()) {
    return make_error(EAFNOSUPPORT, "send from " + spec.source.addr.to_string() + " to " +
                                        spec.destination.addr.to_string() +
                                        ": address families differ");
  }
  if (spec.vlan > kVlanIdMask) {
    return make_error(EINVAL, "VLAN ID " + std::to_string(spec.vlan) + " is above 4095");
  }
  return {};
}

// The build side asks is_v4() once per frame and passes the answer down.
size_t header_size(const FrameHeaderSpec& spec, bool v4) {
  return kEthHeader + (spec.vlan != 0 ? kVlanTag : 0) + (v4 ? kIpv4Header : kIpv6Header) +
         kUdpHeader;
}

Status check_fits(size_t capacity, const FrameHeaderSpec& spec, bool v4, size_t payload_len) {
  const size_t ip_header = v4 ? kIpv4Header : 0;
  if (payload_len > kMaxIpPacket - ip_header - kUdpHeader) {
    return make_error(EMSGSIZE, "UDP payload of " + std::to_string(payload_len) +
                                    " bytes is above the IP maximum");
  }
  if (header_size(spec, v4) + payload_len > capacity) {
    return make_error(EMSGSIZE, "UDP payload of " + std::to_string(payload_len) +
                                    " bytes does not fit frames of " + std::to_string(capacity) +
                                    " bytes");
  }
  return {};
}

// Returns where the IP header starts.
size_t write_ethernet(uint8_t* p, const FrameHeaderSpec& spec, bool v4) {
  std::memcpy(p, spec.dst_mac.data(), 6);
  std::memcpy(p + 6, spec.src_mac.data(), 6);
  size_t offset = kEthTypeOffset;
  if (spec.vlan != 0) {
    store_be16(p + offset, kEthVlan);
    store_be16(p + offset + 2, spec.vlan);  // priority 0, DEI 0
    offset += kVlanTag;
  }
  store_be16(p + offset, v4 ? kEthIpv4 : kEthIpv6);
  return offset + 2;
}

// The sum of an address's 16-bit words (host order values), for checksums
// of headers this side writes: summing the known fields beats summing bytes.
uint64_t address_words(const uint8_t* a, size_t bytes) {
  uint64_t sum = 0;
  for (size_t i = 0; i < bytes; i += 2) sum += load_be16(a + i);
  return sum;
}

uint16_t complement_of(uint64_t sum) {
  return static_cast<uint16_t>(~checksum_fold(sum));
}

void write_ipv4(uint8_t* h, const FrameHeaderSpec& spec, size_t udp_len) {
  std::memset(h, 0, kIpv4Header);
  h[0] = 0x45;  // version 4, 5 words
  const auto total = static_cast<uint16_t>(kIpv4Header + udp_len);
  store_be16(h + 2, total);
  // DF with ID 0: never fragmented, so the ID identifies nothing (RFC 6864).
  store_be16(h + 6, kIpv4DontFragment);
  h[8] = spec.ttl;
  h[9] = IPPROTO_UDP;
  std::memcpy(h + 12, spec.source.addr.v4_bytes(), 4);
  std::memcpy(h + 16, spec.destination.addr.v4_bytes(), 4);
  const uint64_t sum = 0x4500u + total + kIpv4DontFragment +
                       (uint64_t{spec.ttl} << 8 | IPPROTO_UDP) + address_words(h + 12, 8);
  store_be16(h + 10, complement_of(sum));
}

void write_ipv6(uint8_t* h, const FrameHeaderSpec& spec, size_t udp_len) {
  std::memset(h, 0, kIpv6Header);
  h[0] = 0x60;  // version 6, traffic class 0, flow label 0
  store_be16(h + 4, static_cast<uint16_t>(udp_len));
  h[6] = IPPROTO_UDP;
  h[7] = spec.ttl;
  std::memcpy(h + 8, spec.source.addr.bytes().data(), 16);
  std::memcpy(h + 24, spec.destination.addr.bytes().data(), 16);
}

// The UDP checksum (RFC 768, RFC 8200 section 8.1) of a datagram with these
// headers and payload: pseudo header and UDP header from their fields, the
// payload (at an even offset of the datagram) summed in bulk. Never 0: a
// computed 0 goes out as 0xffff.
uint16_t udp_checksum_for(const FrameHeaderSpec& spec, bool v4, size_t udp_len,
                          std::span<const uint8_t> payload) {
  ChecksumAccumulator body;
  body.add(payload);
  uint64_t sum = body.folded();
  if (v4) {
    sum += address_words(spec.source.addr.v4_bytes(), 4) +
           address_words(spec.destination.addr.v4_bytes(), 4);
  } else {
    sum += address_words(spec.source.addr.bytes().data(), 16) +
           address_words(spec.destination.addr.bytes().data(), 16);
    sum += udp_len >> 16;  // the pseudo header's length is 32 bits for IPv6
  }
  sum += IPPROTO_UDP + (udp_len & 0xffff);  // pseudo header: protocol, length
  sum += spec.source.port + spec.destination.port + (udp_len & 0xffff);  // UDP header
  const uint16_t checksum = complement_of(sum);
  return checksum == 0 ? 0xffff : checksum;
}

void write_udp(uint8_t* u, const FrameHeaderSpec& spec, size_t udp_len, bool v4) {
  store_be16(u, spec.source.port);
  store_be16(u + 2, spec.destination.port);
  store_be16(u + 4, static_cast<uint16_t>(udp_len));
  store_be16(u + 6, udp_checksum_for(spec, v4, udp_len, {u + kUdpHeader, udp_len - kUdpHeader}));
}

// Headers in front of the payload already at p + header_size(spec, v4);
// returns the frame's length. Checked by the caller.
size_t write_frame_headers(uint8_t* p, const FrameHeaderSpec& spec, bool v4, size_t payload_len) {
  const size_t udp_len = kUdpHeader + payload_len;
  const size_t l3 = write_ethernet(p, spec, v4);
  size_t l4 = l3;
  if (v4) {
    write_ipv4(p + l3, spec, udp_len);
    l4 += kIpv4Header;
  } else {
    write_ipv6(p + l3, spec, udp_len);
    l4 += kIpv6Header;
  }
  write_udp(p + l4, spec, udp_len, v4);
  return l4 + udp_len;
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

ParseResult parse_udp_frame(std::span<const uint8_t> frame, const ParseOptions& options) {
  LinkLayer link;
  if (auto why = parse_ethernet(frame, &link)) return *why;
  IpLayer ip;
  auto why = link.ethertype == kEthIpv4 ? parse_ipv4(frame, link.l3_offset, options, &ip)
                                        : parse_ipv6(frame, link.l3_offset, &ip);
  if (why) return *why;
  size_t udp_len = 0;
  bool partial = false;
  if (auto bad = check_udp(frame, ip, options, &udp_len, &partial)) return *bad;
  const uint8_t* u = frame.data() + ip.udp_offset;
  DatagramView view;
  view.source = Endpoint{address_at(ip.src, ip.v4), load_be16(u)};
  view.destination = Endpoint{address_at(ip.dst, ip.v4), load_be16(u + 2)};
  view.payload = frame.subspan(ip.udp_offset + kUdpHeader, udp_len - kUdpHeader);
  view.vlan = link.vlan;
  view.tos = ip.tos;
  view.ttl = ip.ttl;
  return ParseResult(view, partial);
}

size_t udp_header_size(const FrameHeaderSpec& spec) {
  return header_size(spec, spec.source.addr.is_v4());
}

Result<size_t> write_udp_headers(std::span<uint8_t> frame, const FrameHeaderSpec& spec,
                                 size_t payload_len) {
  LRP_TRY(check_spec(spec));
  const bool v4 = spec.source.addr.is_v4();
  LRP_TRY(check_fits(frame.size(), spec, v4, payload_len));
  return write_frame_headers(frame.data(), spec, v4, payload_len);
}

Status check_udp_frame(const FrameHeaderSpec& spec, size_t payload_len, size_t capacity) {
  LRP_TRY(check_spec(spec));
  return check_fits(capacity, spec, spec.source.addr.is_v4(), payload_len);
}

size_t build_checked_udp_frame(std::span<uint8_t> out, const FrameHeaderSpec& spec,
                               std::span<const uint8_t> payload) {
  const bool v4 = spec.source.addr.is_v4();
  // memmove: the payload may already sit inside out (zero-copy send).
  if (!payload.empty()) {
    std::memmove(out.data() + header_size(spec, v4), payload.data(), payload.size());
  }
  return write_frame_headers(out.data(), spec, v4, payload.size());
}

Result<size_t> build_udp_frame(std::span<uint8_t> out, const FrameHeaderSpec& spec,
                               std::span<const uint8_t> payload) {
  LRP_TRY(check_udp_frame(spec, payload.size(), out.size()));
  return build_checked_udp_frame(out, spec, payload);
}

Result<size_t> build_udp_frame_split(std::span<const std::span<uint8_t>> segments,
                                     const FrameHeaderSpec& spec, std::span<const uint8_t> payload,
                                     std::span<uint32_t> lengths) {
  size_t capacity = 0;
  for (const auto& s : segments) capacity += s.size();
  LRP_TRY(check_udp_frame(spec, payload.size(), capacity));
  const bool v4 = spec.source.addr.is_v4();
  const size_t headers = header_size(spec, v4);
  if (segments.empty() || segments[0].size() < headers || lengths.size() < segments.size())
    return make_error(EMSGSIZE, "the first buffer of a split frame must hold its " +
                                    std::to_string(headers) + " bytes of headers");
  uint8_t* p = segments[0].data();
  const size_t udp_len = kUdpHeader + payload.size();
  const size_t l3 = write_ethernet(p, spec, v4);
  size_t l4 = l3;
  if (v4) {
    write_ipv4(p + l3, spec, udp_len);
    l4 += kIpv4Header;
  } else {
    write_ipv6(p + l3, spec, udp_len);
    l4 += kIpv6Header;
  }
  // The payload is not contiguous behind the headers: it is summed from the
  // caller's buffer.
  uint8_t* u = p + l4;
  store_be16(u, spec.source.port);
  store_be16(u + 2, spec.destination.port);
  store_be16(u + 4, static_cast<uint16_t>(udp_len));
  store_be16(u + 6, udp_checksum_for(spec, v4, udp_len, payload));
  // Then the payload, across the segments in turn.
  size_t used = 0;
  size_t offset = headers;  // in the current segment
  size_t copied = 0;
  for (; used < segments.size(); ++used) {
    const std::span<uint8_t> seg = segments[used];
    const size_t n = std::min(seg.size() - offset, payload.size() - copied);
    if (n > 0) std::memcpy(seg.data() + offset, payload.data() + copied, n);
    copied += n;
    lengths[used] = static_cast<uint32_t>(offset + n);
    offset = 0;
    if (copied == payload.size()) return used + 1;
  }
  return make_error(EMSGSIZE, "split frame did not fit its buffers");
}

}  // namespace lrp
