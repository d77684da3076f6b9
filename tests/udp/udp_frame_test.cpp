// Parsing and building UDP frames: round trips, one crafted frame per drop
// reason, and truncated or mangled frames that must never yield a view
// outside the frame.
#include "lrp/udp_frame.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "tests/udp/frame_craft.h"

namespace lrp {
namespace {

using test::Bytes;

constexpr size_t kEth = test::kEthHeader;
constexpr size_t kVlanTag = test::kVlanTag;
constexpr uint8_t kHopByHop = test::kProtoHopByHop, kTcp = test::kProtoTcp, kUdp = test::kProtoUdp,
                  kRouting = test::kProtoRouting, kFragment = test::kProtoFragment,
                  kDestOpts = test::kProtoDestOptions;
constexpr uint8_t kNoNext = 59, kAh = 51;

IpAddress addr(const char* text) {
  auto a = IpAddress::parse(text);
  EXPECT_TRUE(a.ok()) << text;
  return a.ok() ? a.value() : IpAddress();
}

FrameHeaderSpec spec_for(bool v6, uint16_t vlan = 0) {
  FrameHeaderSpec s;
  s.src_mac = {0x02, 0, 0, 0, 0, 0x01};
  s.dst_mac = {0x02, 0, 0, 0, 0, 0x02};
  s.source = Endpoint{addr(v6 ? "2001:db8::1" : "192.0.2.1"), 40000};
  s.destination = Endpoint{addr(v6 ? "2001:db8::2" : "192.0.2.2"), 7};
  s.vlan = vlan;
  return s;
}

Bytes payload_of(size_t n) {
  Bytes p(n);
  for (size_t i = 0; i < n; ++i) p[i] = static_cast<uint8_t>(i * 7 + 3);
  return p;
}

Bytes build(const FrameHeaderSpec& spec, const Bytes& payload) {
  Bytes frame(udp_header_size(spec) + payload.size());
  auto len = build_udp_frame(frame, spec, payload);
  EXPECT_TRUE(len.ok()) << (len.ok() ? "" : len.error().message());
  EXPECT_EQ(len.ok() ? len.value() : 0, frame.size());
  return frame;
}

// A frame of ours with where its layers start.
struct Frame {
  Bytes bytes;
  size_t l3 = kEth;
  bool v4 = true;
  size_t l4() const {
    if (v4) return l3 + (bytes[l3] & 0x0f) * 4u;
    // Past any extension headers we inserted.
    size_t off = l3 + 40;
    uint8_t next = bytes[l3 + 6];
    while (next != kUdp) {
      const uint8_t n = bytes[off];
      off += (bytes[off + 1] + 1u) * 8;
      next = n;
    }
    return off;
  }
};

Frame valid_frame(bool v6, size_t payload = 16, uint16_t vlan = 0) {
  return Frame{build(spec_for(v6, vlan), payload_of(payload)), kEth + (vlan ? kVlanTag : 0), !v6};
}

using test::get16;

void put16(Bytes& b, size_t off, uint16_t v) {
  test::set16(b, off, v);
}

test::Layout layout_of(const Frame& f) {
  return test::Layout{!f.v4, f.l3, f.l4()};
}

void refresh_ipv4_checksum(Frame& f) {
  test::refresh_ipv4_checksum(f.bytes, f.l3);
}

// The value a sender puts in the field, from the naive sum in frame_craft.h.
uint16_t reference_udp_checksum(const Frame& f) {
  const uint16_t sum = test::reference_udp_checksum(f.bytes, layout_of(f));
  return sum == 0 ? 0xffff : sum;
}

void refresh_udp_checksum(Frame& f) {
  test::refresh_udp_checksum(f.bytes, layout_of(f));
}

void insert_ipv4_options(Frame& f, const Bytes& options) {
  f.bytes.insert(f.bytes.begin() + f.l3 + 20, options.begin(), options.end());
  f.bytes[f.l3] = static_cast<uint8_t>(0x40 | (5 + options.size() / 4));
  put16(f.bytes, f.l3 + 2, static_cast<uint16_t>(get16(f.bytes, f.l3 + 2) + options.size()));
  refresh_ipv4_checksum(f);
}

// Puts an extension header of 8 * (units + 1) bytes right after the IPv6 header.
void insert_ipv6_ext(Frame& f, uint8_t type, uint8_t units = 0) {
  Bytes ext((units + 1u) * 8, 0);
  ext[0] = f.bytes[f.l3 + 6];
  ext[1] = units;
  if (type != kFragment && type != kRouting) {
    ext[2] = 1;  // PadN over the rest of the options area
    ext[3] = static_cast<uint8_t>(ext.size() - 4);
  }
  f.bytes.insert(f.bytes.begin() + f.l3 + 40, ext.begin(), ext.end());
  f.bytes[f.l3 + 6] = type;
  put16(f.bytes, f.l3 + 4, static_cast<uint16_t>(get16(f.bytes, f.l3 + 4) + ext.size()));
}

ParseResult parse(std::span<const uint8_t> frame, bool verify = true) {
  return parse_udp_frame(frame, ParseOptions{.verify_checksums = verify});
}

std::string describe(const ParseResult& r) {
  return r.ok() ? std::string("accepted") : std::string(to_string(r.reason()));
}

bool inside(std::span<const uint8_t> part, std::span<const uint8_t> whole) {
  return part.data() >= whole.data() && part.size() <= whole.size() &&
         part.data() - whole.data() <= static_cast<ptrdiff_t>(whole.size() - part.size());
}

// ---- Round trips ----

struct RoundTrip {
  bool v6;
  uint16_t vlan;
  size_t payload;
};

std::string round_trip_name(const RoundTrip& p) {
  return std::string(p.v6 ? "v6" : "v4") + "_vlan" + std::to_string(p.vlan) + "_payload" +
         std::to_string(p.payload);
}

// Named rather than dumped as bytes (which include the struct's padding).
void PrintTo(const RoundTrip& p, std::ostream* os) {
  *os << round_trip_name(p);
}

class BuildParseRoundTrip : public testing::TestWithParam<RoundTrip> {};

TEST_P(BuildParseRoundTrip, ParsesWhatWasBuilt) {
  const RoundTrip p = GetParam();
  const FrameHeaderSpec spec = spec_for(p.v6, p.vlan);
  const Bytes payload = payload_of(p.payload);
  Frame f = valid_frame(p.v6, p.payload, p.vlan);
  EXPECT_EQ(f.bytes.size(), kEth + (p.vlan ? 4u : 0u) + (p.v6 ? 40u : 20u) + 8u + p.payload);
  EXPECT_EQ(udp_header_size(spec), f.bytes.size() - p.payload);
  EXPECT_EQ(get16(f.bytes, f.l4() + 6), reference_udp_checksum(f));
  if (!p.v6) {
    EXPECT_EQ(test::reference_sum({f.bytes.data() + f.l3, 20}), 0xffff);
  }

  const ParseResult r = parse(f.bytes);
  ASSERT_TRUE(r.ok()) << describe(r);
  const DatagramView& v = r.view();
  EXPECT_EQ(v.source, spec.source);
  EXPECT_EQ(v.destination, spec.destination);
  EXPECT_EQ(v.vlan, p.vlan);
  EXPECT_EQ(v.payload.data(), f.bytes.data() + udp_header_size(spec));
  EXPECT_EQ(Bytes(v.payload.begin(), v.payload.end()), payload);
}

std::vector<RoundTrip> round_trips() {
  std::vector<RoundTrip> all;
  for (bool v6 : {false, true})
    for (uint16_t vlan : {0, 1, 100, 4095})
      for (size_t n : {0, 1, 2, 7, 8, 9, 63, 64, 65, 511, 1024, 1472}) all.push_back({v6, vlan, n});
  return all;
}

INSTANTIATE_TEST_SUITE_P(Udp, BuildParseRoundTrip, testing::ValuesIn(round_trips()),
                         [](const testing::TestParamInfo<RoundTrip>& i) {
                           return round_trip_name(i.param);
                         });

// The receive side reports TOS / traffic class and TTL / hop limit
// (IP_RECVTOS, IP_RECVTTL, IPV6_RECVTCLASS, IPV6_RECVHOPLIMIT).
TEST(ParseUdpFrame, ReportsTosAndTtl) {
  for (bool v6 : {false, true}) {
    FrameHeaderSpec spec = spec_for(v6, v6 ? 0 : 100);
    spec.ttl = 33;
    Frame f = valid_frame(v6, 20, spec.vlan);
    f.bytes[f.l3 + (v6 ? 7 : 8)] = 33;
    if (v6) {
      // Traffic class 0xb9 spans the version byte's low nibble and the next.
      f.bytes[f.l3] = 0x6b;
      f.bytes[f.l3 + 1] = static_cast<uint8_t>(0x90 | (f.bytes[f.l3 + 1] & 0x0f));
    } else {
      f.bytes[f.l3 + 1] = 0xb9;
    }
    const ParseResult r = parse(f.bytes, /*verify=*/false);
    ASSERT_TRUE(r.ok()) << describe(r);
    EXPECT_EQ(r.view().tos, 0xb9) << (v6 ? "v6" : "v4");
    EXPECT_EQ(r.view().ttl, 33) << (v6 ? "v6" : "v4");
  }
}

TEST(BuildUdpFrame, WritesTheHeaderFields) {
  FrameHeaderSpec spec = spec_for(false, 42);
  spec.ttl = 7;
  const Bytes f = build(spec, payload_of(10));
  EXPECT_EQ(Bytes(f.begin(), f.begin() + 6), Bytes(spec.dst_mac.begin(), spec.dst_mac.end()));
  EXPECT_EQ(Bytes(f.begin() + 6, f.begin() + 12), Bytes(spec.src_mac.begin(), spec.src_mac.end()));
  EXPECT_EQ(get16(f, 12), 0x8100);
  EXPECT_EQ(get16(f, 14), 42);
  EXPECT_EQ(get16(f, 16), 0x0800);
  const size_t ip = 18;
  EXPECT_EQ(f[ip], 0x45);
  EXPECT_EQ(get16(f, ip + 2), 20 + 8 + 10);
  EXPECT_EQ(get16(f, ip + 6), 0x4000);  // DF, offset 0
  EXPECT_EQ(f[ip + 8], 7);
  EXPECT_EQ(f[ip + 9], kUdp);
  EXPECT_EQ(get16(f, ip + 20), 40000);
  EXPECT_EQ(get16(f, ip + 22), 7);
  EXPECT_EQ(get16(f, ip + 24), 18);

  FrameHeaderSpec spec6 = spec_for(true);
  spec6.ttl = 9;
  const Bytes g = build(spec6, payload_of(3));
  EXPECT_EQ(get16(g, 12), 0x86dd);
  EXPECT_EQ(g[14] >> 4, 6);
  EXPECT_EQ(get16(g, 14 + 4), 8 + 3);
  EXPECT_EQ(g[14 + 6], kUdp);
  EXPECT_EQ(g[14 + 7], 9);
}

TEST(BuildUdpFrame, WriteHeadersInFrontOfAPayloadInPlace) {
  for (bool v6 : {false, true}) {
    const FrameHeaderSpec spec = spec_for(v6, 7);
    const Bytes payload = payload_of(333);
    Bytes frame(2048, 0xcc);  // a UMEM frame with stale bytes
    std::memcpy(frame.data() + udp_header_size(spec), payload.data(), payload.size());
    auto len = write_udp_headers(frame, spec, payload.size());
    ASSERT_TRUE(len.ok()) << len.error().message();
    EXPECT_EQ(len.value(), udp_header_size(spec) + payload.size());
    frame.resize(len.value());
    EXPECT_EQ(frame, build(spec, payload));
    // build_udp_frame with the payload already in place does the same.
    auto again = build_udp_frame(frame, spec,
                                 std::span<const uint8_t>(frame).subspan(udp_header_size(spec)));
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(frame, build(spec, payload));
  }
}

TEST(BuildUdpFrame, ComputedZeroChecksumIsSentAsAllOnes) {
  for (bool v6 : {false, true}) {
    const FrameHeaderSpec spec = spec_for(v6);
    // Choose the payload's one word so that the checksum comes out as 0.
    Frame f = valid_frame(v6, 2);
    const uint16_t with_zero_word = [&] {
      Frame z = f;
      put16(z.bytes, z.l4() + 8, 0);
      return reference_udp_checksum(z);
    }();
    const Bytes payload = {static_cast<uint8_t>(with_zero_word >> 8),
                           static_cast<uint8_t>(with_zero_word)};
    Frame g{build(spec, payload), kEth, !v6};
    EXPECT_EQ(get16(g.bytes, g.l4() + 6), 0xffff);
    const ParseResult r = parse(g.bytes);
    ASSERT_TRUE(r.ok()) << describe(r);
    EXPECT_EQ(Bytes(r.view().payload.begin(), r.view().payload.end()), payload);
  }
}

TEST(BuildUdpFrame, ErrorsWhenItDoesNotFit) {
  const FrameHeaderSpec spec = spec_for(false);
  const Bytes payload = payload_of(100);
  Bytes exact(udp_header_size(spec) + payload.size());
  EXPECT_TRUE(build_udp_frame(exact, spec, payload).ok());
  Bytes small(exact.size() - 1);
  auto r = build_udp_frame(small, spec, payload);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, EMSGSIZE);
  EXPECT_FALSE(r.error().context.empty());
  auto w = write_udp_headers(small, spec, payload.size());
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.error().code, EMSGSIZE);
  Bytes tiny(10);
  EXPECT_EQ(write_udp_headers(tiny, spec, 0).error().code, EMSGSIZE);
}

TEST(BuildUdpFrame, ErrorsAboveTheIpMaximum) {
  Bytes big(70000);
  const FrameHeaderSpec v4 = spec_for(false);
  EXPECT_TRUE(write_udp_headers(big, v4, 65535 - 28).ok());
  EXPECT_EQ(write_udp_headers(big, v4, 65535 - 27).error().code, EMSGSIZE);
  const FrameHeaderSpec v6 = spec_for(true);
  EXPECT_TRUE(write_udp_headers(big, v6, 65535 - 8).ok());
  EXPECT_EQ(write_udp_headers(big, v6, 65535 - 7).error().code, EMSGSIZE);
}

TEST(BuildUdpFrame, ErrorsOnMixedFamiliesAndBadVlan) {
  FrameHeaderSpec mixed = spec_for(false);
  mixed.destination.addr = addr("2001:db8::2");
  Bytes frame(256);
  auto r = build_udp_frame(frame, mixed, payload_of(4));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, EAFNOSUPPORT);
  EXPECT_EQ(write_udp_headers(frame, mixed, 4).error().code, EAFNOSUPPORT);
  FrameHeaderSpec vlan = spec_for(false, 4096);
  EXPECT_EQ(build_udp_frame(frame, vlan, payload_of(4)).error().code, EINVAL);
}

// ---- Every drop reason ----

struct Crafted {
  std::string what;
  Bytes frame;
  DropReason expected;
};

std::vector<Crafted> crafted_drops() {
  std::vector<Crafted> all;
  auto add = [&](std::string what, const Frame& f, DropReason why) {
    all.push_back({std::move(what), f.bytes, why});
  };
  auto cut = [](Frame f, size_t len) {
    f.bytes.resize(len);
    return f;
  };

  {
    Frame f = valid_frame(false);
    add("shorter than Ethernet", cut(f, 13), DropReason::Truncated);
    add("IPv4 header cut", cut(f, kEth + 19), DropReason::Truncated);
    add("IPv4 packet cut", cut(f, f.bytes.size() - 1), DropReason::Truncated);
    Frame tagged = valid_frame(false, 16, 5);
    add("VLAN tag cut", cut(tagged, kEth + 2), DropReason::Truncated);
    Frame options = valid_frame(false, 0);
    options.bytes[kEth] = 0x4f;  // 60 bytes of header in a 42-byte frame
    add("IPv4 options beyond the frame", options, DropReason::Truncated);
    Frame v6 = valid_frame(true);
    add("IPv6 header cut", cut(v6, kEth + 39), DropReason::Truncated);
    add("IPv6 payload cut", cut(v6, v6.bytes.size() - 1), DropReason::Truncated);
  }
  {
    Frame arp = valid_frame(false);
    put16(arp.bytes, 12, 0x0806);
    add("ARP", arp, DropReason::NotIp);
    Frame qinq = valid_frame(false, 16, 5);
    const Bytes outer = {0x88, 0xa8, 0x00, 0x09};
    qinq.bytes.insert(qinq.bytes.begin() + 12, outer.begin(), outer.end());
    add("two VLAN tags", qinq, DropReason::NotIp);
  }
  {
    Frame tcp = valid_frame(false);
    tcp.bytes[kEth + 9] = kTcp;
    refresh_ipv4_checksum(tcp);
    add("IPv4 TCP", tcp, DropReason::NotUdp);
    Frame tcp6 = valid_frame(true);
    tcp6.bytes[kEth + 6] = kTcp;
    add("IPv6 TCP", tcp6, DropReason::NotUdp);
    Frame none = valid_frame(true);
    insert_ipv6_ext(none, kDestOpts);
    none.bytes[kEth + 40] = kNoNext;
    add("IPv6 no next header after options", none, DropReason::NotUdp);
  }
  {
    Frame v5 = valid_frame(false);
    v5.bytes[kEth] = 0x65;
    add("IPv4 ethertype, version 6", v5, DropReason::BadIpHeader);
    Frame ihl = valid_frame(false);
    ihl.bytes[kEth] = 0x44;
    add("IHL 4", ihl, DropReason::BadIpHeader);
    Frame v6 = valid_frame(true);
    v6.bytes[kEth] = 0x40;
    add("IPv6 ethertype, version 4", v6, DropReason::BadIpHeader);
    Frame late_hop = valid_frame(true);
    insert_ipv6_ext(late_hop, kHopByHop);
    insert_ipv6_ext(late_hop, kDestOpts);
    add("hop-by-hop after destination options", late_hop, DropReason::BadIpHeader);
  }
  {
    Frame f = valid_frame(false);
    f.bytes[kEth + 10] ^= 0x01;
    add("IPv4 header checksum", f, DropReason::BadIpChecksum);
  }
  {
    Frame below = valid_frame(false);
    put16(below.bytes, kEth + 2, 19);
    refresh_ipv4_checksum(below);
    add("IPv4 total length below the header", below, DropReason::BadLength);
    Frame no_udp = valid_frame(false, 0);
    put16(no_udp.bytes, kEth + 2, 27);
    refresh_ipv4_checksum(no_udp);
    add("IPv4 total length without a UDP header", no_udp, DropReason::BadLength);
    Frame short6 = valid_frame(true, 0);
    put16(short6.bytes, kEth + 4, 7);
    add("IPv6 payload length without a UDP header", short6, DropReason::BadLength);
    Frame long_ext = valid_frame(true, 0);
    insert_ipv6_ext(long_ext, kDestOpts);
    long_ext.bytes[kEth + 41] = 3;  // 32 bytes in a 16-byte payload
    add("IPv6 extension header beyond the payload", long_ext, DropReason::BadLength);
    Frame ext_only = valid_frame(true, 0);
    insert_ipv6_ext(ext_only, kDestOpts);
    put16(ext_only.bytes, kEth + 4, 8);
    add("IPv6 payload holds only an extension header", ext_only, DropReason::BadLength);
  }
  {
    Frame mf = valid_frame(false);
    put16(mf.bytes, kEth + 6, 0x2000);
    refresh_ipv4_checksum(mf);
    add("IPv4 more fragments", mf, DropReason::Fragment);
    Frame offset = valid_frame(false);
    put16(offset.bytes, kEth + 6, 185);
    refresh_ipv4_checksum(offset);
    add("IPv4 fragment offset", offset, DropReason::Fragment);
    Frame frag6 = valid_frame(true);
    insert_ipv6_ext(frag6, kFragment);
    add("IPv6 fragment header", frag6, DropReason::Fragment);
    Frame late_frag6 = valid_frame(true);
    insert_ipv6_ext(late_frag6, kFragment);
    insert_ipv6_ext(late_frag6, kHopByHop);
    add("IPv6 fragment header after hop-by-hop", late_frag6, DropReason::Fragment);
  }
  for (bool v6 : {false, true}) {
    const std::string ip = v6 ? "IPv6 " : "IPv4 ";
    Frame small = valid_frame(v6);
    put16(small.bytes, small.l4() + 4, 7);
    add(ip + "UDP length 7", small, DropReason::BadUdpLength);
    Frame big = valid_frame(v6);
    put16(big.bytes, big.l4() + 4, 8 + 16 + 1);
    add(ip + "UDP length beyond the IP payload", big, DropReason::BadUdpLength);
    Frame sum = valid_frame(v6);
    sum.bytes.back() ^= 0x80;
    add(ip + "UDP checksum", sum, DropReason::BadUdpChecksum);
    Frame all_ones = valid_frame(v6);
    if (get16(all_ones.bytes, all_ones.l4() + 6) != 0xffff) {
      put16(all_ones.bytes, all_ones.l4() + 6, 0xffff);
      add(ip + "UDP checksum 0xffff where it is not 0", all_ones, DropReason::BadUdpChecksum);
    }
  }
  {
    Frame zero = valid_frame(true);
    put16(zero.bytes, zero.l4() + 6, 0);
    add("zero IPv6 UDP checksum", zero, DropReason::ZeroUdpChecksumV6);
    Frame nine = valid_frame(true);
    for (int i = 0; i < 9; ++i) insert_ipv6_ext(nine, kDestOpts);
    add("nine extension headers", nine, DropReason::Ipv6ExtUnsupported);
    Frame ah = valid_frame(true);
    ah.bytes[kEth + 6] = kAh;
    add("IPv6 authentication header", ah, DropReason::Ipv6ExtUnsupported);
  }
  return all;
}

TEST(ParseUdpFrame, EveryCraftedFrameIsDroppedForItsReason) {
  std::set<DropReason> seen;
  for (const Crafted& c : crafted_drops()) {
    const ParseResult r = parse(c.frame);
    EXPECT_FALSE(r.ok()) << c.what;
    EXPECT_EQ(describe(r), to_string(c.expected)) << c.what;
    seen.insert(c.expected);
  }
  EXPECT_EQ(seen.size(), static_cast<size_t>(DropReason::Count)) << "a reason without a frame";
}

TEST(ParseUdpFrame, DropReasonNamesAreDistinctSnakeCase) {
  std::set<std::string> names;
  for (size_t i = 0; i < static_cast<size_t>(DropReason::Count); ++i) {
    const std::string name = to_string(static_cast<DropReason>(i));
    EXPECT_NE(name, "unknown");
    for (char ch : name)
      EXPECT_TRUE((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_') << name;
    names.insert(name);
  }
  EXPECT_EQ(names.size(), static_cast<size_t>(DropReason::Count));
  EXPECT_STREQ(to_string(DropReason::BadUdpChecksum), "bad_udp_checksum");
  EXPECT_STREQ(to_string(DropReason::Truncated), "truncated");
}

// ---- Accepted variations ----

void expect_payload(const Bytes& frame, size_t payload_len, bool verify = true) {
  const ParseResult r = parse(frame, verify);
  ASSERT_TRUE(r.ok()) << describe(r);
  EXPECT_EQ(Bytes(r.view().payload.begin(), r.view().payload.end()), payload_of(payload_len));
  EXPECT_TRUE(inside(r.view().payload, frame));
}

TEST(ParseUdpFrame, AcceptsIpv4Options) {
  for (size_t len : {4u, 8u, 40u}) {
    Frame f = valid_frame(false, 33);
    Bytes options(len, 0x01);  // NOPs
    options.back() = 0x00;     // end of options list
    insert_ipv4_options(f, options);
    expect_payload(f.bytes, 33);
  }
}

TEST(ParseUdpFrame, IgnoresEthernetPadding) {
  for (bool v6 : {false, true}) {
    Frame f = valid_frame(v6, 1);
    f.bytes.resize(std::max<size_t>(f.bytes.size(), 60) + 4, 0xa5);
    expect_payload(f.bytes, 1);
  }
}

TEST(ParseUdpFrame, UdpLengthShorterThanIpPayloadLimitsThePayload) {
  for (bool v6 : {false, true}) {
    Frame f = valid_frame(v6, 20);
    put16(f.bytes, f.l4() + 4, 8 + 12);
    refresh_udp_checksum(f);
    expect_payload(f.bytes, 12);
  }
}

TEST(ParseUdpFrame, ZeroUdpChecksumMeansNoneOnIpv4Only) {
  Frame v4 = valid_frame(false);
  put16(v4.bytes, v4.l4() + 6, 0);
  expect_payload(v4.bytes, 16);
  Frame v6 = valid_frame(true);
  put16(v6.bytes, v6.l4() + 6, 0);
  EXPECT_EQ(describe(parse(v6.bytes)), "zero_udp_checksum_v6");
  EXPECT_EQ(describe(parse(v6.bytes, false)), "zero_udp_checksum_v6");
}

TEST(ParseUdpFrame, ChecksumsAreSkippedWhenNotVerified) {
  Frame header = valid_frame(false);
  header.bytes[kEth + 10] ^= 0xff;
  expect_payload(header.bytes, 16, false);
  for (bool v6 : {false, true}) {
    Frame udp = valid_frame(v6);
    udp.bytes[udp.l4() + 7] ^= 0x10;
    expect_payload(udp.bytes, 16, false);
  }
}

TEST(ParseUdpFrame, WalksIpv6ExtensionHeaders) {
  Frame f = valid_frame(true, 16);
  for (int i = 0; i < 6; ++i) insert_ipv6_ext(f, kDestOpts, static_cast<uint8_t>(i));
  insert_ipv6_ext(f, kRouting, 2);
  insert_ipv6_ext(f, kHopByHop);
  expect_payload(f.bytes, 16);  // eight headers: the most we walk
}

TEST(ParseUdpFrame, VlanTagsOfBothKindsAndPriorityBits) {
  Frame q = valid_frame(false, 16, 10);
  put16(q.bytes, 14, 0xe00a);  // priority 7, VLAN 10
  const ParseResult r = parse(q.bytes);
  ASSERT_TRUE(r.ok()) << describe(r);
  EXPECT_EQ(r.view().vlan, 10);
  Frame ad = valid_frame(true, 16, 20);
  put16(ad.bytes, 12, 0x88a8);
  const ParseResult s = parse(ad.bytes);
  ASSERT_TRUE(s.ok()) << describe(s);
  EXPECT_EQ(s.view().vlan, 20);
  const ParseResult untagged = parse(valid_frame(false).bytes);
  ASSERT_TRUE(untagged.ok());
  EXPECT_EQ(untagged.view().vlan, 0);
}

// ---- Truncation and mangling ----

std::vector<Frame> assorted_valid_frames() {
  std::vector<Frame> all = {valid_frame(false, 0), valid_frame(false, 9, 3), valid_frame(true, 1),
                            valid_frame(true, 64, 4095)};
  Frame options = valid_frame(false, 5);
  insert_ipv4_options(options, Bytes(12, 0x01));
  all.push_back(options);
  Frame ext = valid_frame(true, 7);
  insert_ipv6_ext(ext, kDestOpts, 1);
  insert_ipv6_ext(ext, kHopByHop);
  all.push_back(ext);
  return all;
}

TEST(ParseUdpFrame, EveryTruncationIsDroppedAsTruncated) {
  test::GuardedFrame guarded;
  for (const Frame& f : assorted_valid_frames()) {
    ASSERT_TRUE(parse(guarded.place(f.bytes)).ok());
    for (size_t len = 0; len < f.bytes.size(); ++len) {
      // Ends at a guard page: a read past the prefix faults.
      const auto prefix = guarded.place(std::span(f.bytes).first(len));
      const ParseResult r = parse(prefix);
      ASSERT_FALSE(r.ok()) << "accepted at " << len << " of " << f.bytes.size();
      EXPECT_EQ(r.reason(), DropReason::Truncated) << describe(r) << " at " << len;
    }
  }
}

TEST(ParseUdpFrame, MangledFramesNeverYieldAViewOutsideTheFrame) {
  std::mt19937 rng(20);
  test::GuardedFrame guarded;
  const std::vector<Frame> bases = assorted_valid_frames();
  size_t accepted = 0;
  for (int i = 0; i < 50000; ++i) {
    Bytes f = bases[rng() % bases.size()].bytes;
    const int flips = 1 + static_cast<int>(rng() % 3);
    for (int k = 0; k < flips; ++k) f[rng() % f.size()] = static_cast<uint8_t>(rng());
    if (rng() % 4 == 0) f.resize(rng() % (f.size() + 1));
    const auto exact = guarded.place(f);
    const ParseResult r = parse(exact, rng() % 2 == 0);
    if (!r.ok()) {
      ASSERT_LT(r.reason(), DropReason::Count);
      continue;
    }
    ++accepted;
    ASSERT_TRUE(inside(r.view().payload, exact)) << i;
  }
  EXPECT_GT(accepted, 0u);
}

}  // namespace
}  // namespace lrp
