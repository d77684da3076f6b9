#include "lrp/ip_address.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

namespace lrp {

IpAddress IpAddress::from_v4(const in_addr& v4) {
  return from_v4_bytes(reinterpret_cast<const uint8_t*>(&v4.s_addr));
}

IpAddress IpAddress::from_v6(const in6_addr& v6) {
  return from_v6_bytes(v6.s6_addr);
}

IpAddress IpAddress::from_v4_bytes(const uint8_t* four) {
  IpAddress a;
  std::memcpy(a.bytes_.data() + 12, four, 4);
  return a;
}

IpAddress IpAddress::from_v6_bytes(const uint8_t* sixteen) {
  IpAddress a;
  std::memcpy(a.bytes_.data(), sixteen, 16);
  return a;
}

Result<IpAddress> IpAddress::from_sockaddr(const sockaddr_storage& ss) {
  auto ep = Endpoint::from_sockaddr(ss);
  if (!ep) return ep.error();
  return ep->addr;
}

Result<IpAddress> IpAddress::parse(std::string_view text) {
  // inet_pton wants a terminated string; text longer than the longest valid
  // address is invalid anyway. The family is chosen by the text so that an
  // IPv6 parse never accepts what was meant as IPv4 and the reverse.
  char buf[INET6_ADDRSTRLEN];
  // An embedded NUL would end the text early for inet_pton: refuse it.
  if (!text.empty() && text.size() < sizeof(buf) && text.find('\0') == std::string_view::npos) {
    std::memcpy(buf, text.data(), text.size());
    buf[text.size()] = '\0';
    if (text.find(':') == std::string_view::npos) {
      in_addr v4;
      if (inet_pton(AF_INET, buf, &v4) == 1) return from_v4(v4);
    } else {
      in6_addr v6;
      if (inet_pton(AF_INET6, buf, &v6) == 1) return from_v6(v6);
    }
  }
  std::string why = "'";
  why += text;
  why += "' is not an IPv4 or IPv6 address";
  return make_error(EINVAL, std::move(why));
}

bool IpAddress::is_v4() const {
  return std::equal(bytes_.begin(), bytes_.begin() + 12, kV4MappedPrefix.begin());
}

bool IpAddress::is_any() const {
  return *this == any_v4() || *this == any_v6();
}

in_addr IpAddress::to_v4() const {
  in_addr v4;
  std::memcpy(&v4.s_addr, bytes_.data() + 12, 4);
  return v4;
}

in6_addr IpAddress::to_v6() const {
  in6_addr v6;
  std::memcpy(v6.s6_addr, bytes_.data(), 16);
  return v6;
}

socklen_t IpAddress::to_sockaddr(uint16_t port, sockaddr_storage* out) const {
  std::memset(out, 0, sizeof(*out));
  if (is_v4()) {
    auto* sin = reinterpret_cast<sockaddr_in*>(out);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    sin->sin_addr = to_v4();
    return sizeof(sockaddr_in);
  }
  auto* sin6 = reinterpret_cast<sockaddr_in6*>(out);
  sin6->sin6_family = AF_INET6;
  sin6->sin6_port = htons(port);
  sin6->sin6_addr = to_v6();
  return sizeof(sockaddr_in6);
}

std::string IpAddress::to_string() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (is_v4()) {
    const in_addr v4 = to_v4();
    inet_ntop(AF_INET, &v4, buf, sizeof(buf));
  } else {
    const in6_addr v6 = to_v6();
    inet_ntop(AF_INET6, &v6, buf, sizeof(buf));
  }
  return buf;
}

Result<Endpoint> Endpoint::from_sockaddr(const sockaddr_storage& ss) {
  return from_sockaddr(reinterpret_cast<const sockaddr*>(&ss), sizeof(ss));
}

Result<Endpoint> Endpoint::from_sockaddr(const sockaddr* sa, socklen_t len) {
  if (sa == nullptr) return make_error(EFAULT, "socket address missing");
  if (len < static_cast<socklen_t>(sizeof(sa_family_t))) {
    return make_error(EINVAL, "socket address of " + std::to_string(len) + " bytes");
  }
  // Copied out rather than cast: a caller's buffer need not be aligned for
  // the specific structure.
  sa_family_t family;
  std::memcpy(&family, sa, sizeof(family));
  if (family == AF_INET && len >= static_cast<socklen_t>(sizeof(sockaddr_in))) {
    sockaddr_in sin;
    std::memcpy(&sin, sa, sizeof(sin));
    return Endpoint{IpAddress::from_v4(sin.sin_addr), ntohs(sin.sin_port)};
  }
  if (family == AF_INET6 && len >= static_cast<socklen_t>(sizeof(sockaddr_in6))) {
    sockaddr_in6 sin6;
    std::memcpy(&sin6, sa, sizeof(sin6));
    return Endpoint{IpAddress::from_v6(sin6.sin6_addr), ntohs(sin6.sin6_port)};
  }
  if (family == AF_INET || family == AF_INET6) {
    return make_error(
        EINVAL, "socket address of " + std::to_string(len) + " bytes is too short for its family");
  }
  return make_error(EAFNOSUPPORT, "socket address family " + std::to_string(family));
}

std::string Endpoint::to_string() const {
  const std::string p = std::to_string(port);
  if (addr.is_v4()) return addr.to_string() + ":" + p;
  std::string s = "[";
  s += addr.to_string();
  s += "]:";
  s += p;
  return s;
}

}  // namespace lrp

namespace {

uint64_t mix(uint64_t h) {
  // splitmix64's finaliser: every input bit reaches every output bit, so
  // v4-mapped addresses (constant upper half) still spread over buckets.
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebULL;
  return h ^ (h >> 31);
}

uint64_t hash_address(const lrp::IpAddress& a) {
  uint64_t hi, lo;
  std::memcpy(&hi, a.bytes().data(), 8);
  std::memcpy(&lo, a.bytes().data() + 8, 8);
  return mix(lo ^ mix(hi));
}

}  // namespace

size_t std::hash<lrp::IpAddress>::operator()(const lrp::IpAddress& a) const noexcept {
  return static_cast<size_t>(hash_address(a));
}

size_t std::hash<lrp::Endpoint>::operator()(const lrp::Endpoint& e) const noexcept {
  return static_cast<size_t>(mix(hash_address(e.addr) ^ e.port));
}
