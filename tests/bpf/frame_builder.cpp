#include "tests/bpf/frame_builder.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace lrp::test {

namespace {

void put16(Bytes& b, size_t at, uint16_t v) {
  b.at(at) = static_cast<uint8_t>(v >> 8);
  b.at(at + 1) = static_cast<uint8_t>(v);
}

void append16(Bytes& b, uint16_t v) {
  b.push_back(static_cast<uint8_t>(v >> 8));
  b.push_back(static_cast<uint8_t>(v));
}

template <size_t N>
void append(Bytes& b, const std::array<uint8_t, N>& a) {
  b.insert(b.end(), a.begin(), a.end());
}

uint16_t ipv4_checksum(const uint8_t* header, size_t len) {
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < len; i += 2)
    sum += static_cast<uint32_t>(header[i] << 8 | header[i + 1]);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

}  // namespace

std::array<uint8_t, 16> addr16(const std::string& text) {
  std::array<uint8_t, 16> out{};
  in_addr v4{};
  if (inet_pton(AF_INET, text.c_str(), &v4) == 1) {
    out[10] = 0xff;
    out[11] = 0xff;
    std::memcpy(&out[12], &v4, 4);
    return out;
  }
  if (inet_pton(AF_INET6, text.c_str(), out.data()) != 1)
    throw std::invalid_argument("not an address: " + text);
  return out;
}

void FrameBuilder::set_ethertype(uint16_t type) {
  if (!ethertype_at_) return;
  if (bytes_[*ethertype_at_] == 0 && bytes_[*ethertype_at_ + 1] == 0)
    put16(bytes_, *ethertype_at_, type);
  ethertype_at_.reset();
}

FrameBuilder& FrameBuilder::eth(uint16_t ethertype, const std::array<uint8_t, 6>& dst) {
  append(bytes_, dst);
  append(bytes_, std::array<uint8_t, 6>{0x02, 0x00, 0x00, 0x00, 0x00, 0x02});
  ethertype_at_ = bytes_.size();
  append16(bytes_, ethertype);
  return *this;
}

FrameBuilder& FrameBuilder::vlan(uint16_t tci, uint16_t tpid, uint16_t inner) {
  set_ethertype(tpid);
  append16(bytes_, tci);
  ethertype_at_ = bytes_.size();
  append16(bytes_, inner);
  return *this;
}

FrameBuilder& FrameBuilder::ipv4(const std::string& src, const std::string& dst, uint8_t protocol,
                                 const Bytes& options) {
  if (options.size() % 4 != 0 || options.size() > 40)
    throw std::invalid_argument("IPv4 options must be a multiple of 4, at most 40 bytes");
  set_ethertype(kEthIpv4);
  ipv4_at_ = bytes_.size();
  bytes_.push_back(static_cast<uint8_t>(0x40 | (5 + options.size() / 4)));
  bytes_.push_back(0);       // DSCP/ECN
  append16(bytes_, 0);       // total length, filled in by build()
  append16(bytes_, 0x1234);  // identification
  append16(bytes_, 0);       // flags, fragment offset
  bytes_.push_back(64);      // TTL
  bytes_.push_back(protocol);
  append16(bytes_, 0);  // checksum, filled in by build()
  const auto s = addr16(src);
  const auto d = addr16(dst);
  bytes_.insert(bytes_.end(), s.begin() + 12, s.end());
  bytes_.insert(bytes_.end(), d.begin() + 12, d.end());
  bytes_.insert(bytes_.end(), options.begin(), options.end());
  return *this;
}

FrameBuilder& FrameBuilder::ipv6(const std::string& src, const std::string& dst, uint8_t next) {
  set_ethertype(kEthIpv6);
  ipv6_at_ = bytes_.size();
  append16(bytes_, 0x6000);  // version, traffic class, flow label
  append16(bytes_, 0);
  append16(bytes_, 0);  // payload length, filled in by build()
  bytes_.push_back(next);
  bytes_.push_back(64);  // hop limit
  append(bytes_, addr16(src));
  append(bytes_, addr16(dst));
  return *this;
}

FrameBuilder& FrameBuilder::ipv6_ext(uint8_t next, uint8_t hdrlen) {
  bytes_.push_back(next);
  bytes_.push_back(hdrlen);
  // PadN option filling the rest of the header.
  const size_t rest = 8u * (hdrlen + 1u) - 2;
  bytes_.push_back(1);
  bytes_.push_back(static_cast<uint8_t>(rest - 2));
  bytes_.insert(bytes_.end(), rest - 2, 0);
  return *this;
}

FrameBuilder& FrameBuilder::ipv6_fragment(uint8_t next, uint16_t offset_units, bool more) {
  bytes_.push_back(next);
  bytes_.push_back(0);
  append16(bytes_, static_cast<uint16_t>(offset_units << 3 | (more ? 1 : 0)));
  append16(bytes_, 0xbeef);  // identification
  append16(bytes_, 0x0001);
  return *this;
}

FrameBuilder& FrameBuilder::udp(uint16_t src_port, uint16_t dst_port) {
  udp_at_ = bytes_.size();
  append16(bytes_, src_port);
  append16(bytes_, dst_port);
  append16(bytes_, 0);  // length, filled in by build()
  append16(bytes_, 0);  // checksum: not checked at XDP
  return *this;
}

FrameBuilder& FrameBuilder::bytes(const Bytes& data) {
  bytes_.insert(bytes_.end(), data.begin(), data.end());
  return *this;
}

FrameBuilder& FrameBuilder::payload(size_t n, uint8_t fill) {
  bytes_.insert(bytes_.end(), n, fill);
  return *this;
}

FrameBuilder& FrameBuilder::ipv4_ihl(uint8_t ihl) {
  ihl_ = ihl;
  return *this;
}

FrameBuilder& FrameBuilder::ipv4_version(uint8_t version) {
  version_ = version;
  return *this;
}

FrameBuilder& FrameBuilder::ipv4_total_length(uint16_t total) {
  total_length_ = total;
  return *this;
}

FrameBuilder& FrameBuilder::ipv4_fragment(uint16_t offset_units, bool more, bool dont) {
  frag_ = static_cast<uint16_t>((dont ? kIpDontFragment : 0) | (more ? kIpMoreFragments : 0) |
                                (offset_units & 0x1fff));
  return *this;
}

FrameBuilder& FrameBuilder::ipv6_payload_length(uint16_t length) {
  payload_length_ = length;
  return *this;
}

FrameBuilder& FrameBuilder::udp_length(uint16_t length) {
  udp_length_ = length;
  return *this;
}

FrameBuilder& FrameBuilder::pad(size_t n) {
  pad_ = n;
  return *this;
}

FrameBuilder& FrameBuilder::truncate(size_t n) {
  truncate_ = n;
  return *this;
}

Bytes FrameBuilder::build() const {
  Bytes b = bytes_;
  if (udp_at_)
    put16(b, *udp_at_ + 4, udp_length_.value_or(static_cast<uint16_t>(b.size() - *udp_at_)));
  if (ipv6_at_)
    put16(b, *ipv6_at_ + 4,
          payload_length_.value_or(static_cast<uint16_t>(b.size() - *ipv6_at_ - 40)));
  if (ipv4_at_) {
    const size_t at = *ipv4_at_;
    const size_t header_len = 4u * (b[at] & 0x0f);
    if (version_) b[at] = static_cast<uint8_t>(*version_ << 4 | (b[at] & 0x0f));
    if (ihl_) b[at] = static_cast<uint8_t>((b[at] & 0xf0) | (*ihl_ & 0x0f));
    put16(b, at + 2, total_length_.value_or(static_cast<uint16_t>(b.size() - at)));
    if (frag_) put16(b, at + 6, *frag_);
    put16(b, at + 10, ipv4_checksum(&b[at], std::min(header_len, b.size() - at)));
  }
  b.insert(b.end(), pad_, 0);
  if (truncate_) b.resize(std::min(*truncate_, b.size()));
  return b;
}

}  // namespace lrp::test
