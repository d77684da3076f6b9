#include "lrp/ip_address.h"

#include <arpa/inet.h>

namespace lrp {

static constexpr uint8_t kV4Prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

IpAddress IpAddress::any_v4() { return IpAddress(); }

IpAddress IpAddress::any_v6() {
  IpAddress a;
  a.bytes_.fill(0);
  return a;
}

IpAddress IpAddress::from_v4_bytes(const uint8_t* four) {
  IpAddress a = any_v4();
  std::memcpy(a.bytes_.data() + 12, four, 4);
  return a;
}

IpAddress IpAddress::from_v4(const in_addr& v4) {
  return from_v4_bytes(reinterpret_cast<const uint8_t*>(&v4.s_addr));
}

IpAddress IpAddress::from_v6(const in6_addr& v6) {
  IpAddress a;
  std::memcpy(a.bytes_.data(), v6.s6_addr, 16);
  return a;
}

Result<IpAddress> IpAddress::parse(std::string_view text) {
  std::string s(text);
  in_addr v4;
  if (inet_pton(AF_INET, s.c_str(), &v4) == 1) return from_v4(v4);
  in6_addr v6;
  if (inet_pton(AF_INET6, s.c_str(), &v6) == 1) return from_v6(v6);
  return make_error(EINVAL, "'" + s + "' is not an IPv4 or IPv6 address");
}

bool IpAddress::is_v4() const { return std::memcmp(bytes_.data(), kV4Prefix, 12) == 0; }

bool IpAddress::is_any() const {
  if (is_v4()) return bytes_[12] == 0 && bytes_[13] == 0 && bytes_[14] == 0 && bytes_[15] == 0;
  for (uint8_t b : bytes_)
    if (b != 0) return false;
  return true;
}

in_addr IpAddress::to_v4() const {
  in_addr a;
  std::memcpy(&a.s_addr, bytes_.data() + 12, 4);
  return a;
}

in6_addr IpAddress::to_v6() const {
  in6_addr a;
  std::memcpy(a.s6_addr, bytes_.data(), 16);
  return a;
}

std::string IpAddress::to_string() const {
  char text[INET6_ADDRSTRLEN] = {};
  if (is_v4()) {
    in_addr a = to_v4();
    inet_ntop(AF_INET, &a, text, sizeof(text));
  } else {
    in6_addr a = to_v6();
    inet_ntop(AF_INET6, &a, text, sizeof(text));
  }
  return text;
}

socklen_t Endpoint::to_sockaddr(sockaddr_storage* out) const {
  std::memset(out, 0, sizeof(*out));
  if (addr.is_v4()) {
    auto* sin = reinterpret_cast<sockaddr_in*>(out);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    sin->sin_addr = addr.to_v4();
    return sizeof(*sin);
  }
  auto* sin6 = reinterpret_cast<sockaddr_in6*>(out);
  sin6->sin6_family = AF_INET6;
  sin6->sin6_port = htons(port);
  sin6->sin6_addr = addr.to_v6();
  return sizeof(*sin6);
}

Result<Endpoint> Endpoint::from_sockaddr(const sockaddr* sa, socklen_t len) {
  if (sa == nullptr) return make_error(EFAULT, "socket address missing");
  if (sa->sa_family == AF_INET && len >= sizeof(sockaddr_in)) {
    auto* sin = reinterpret_cast<const sockaddr_in*>(sa);
    return Endpoint{IpAddress::from_v4(sin->sin_addr), ntohs(sin->sin_port)};
  }
  if (sa->sa_family == AF_INET6 && len >= sizeof(sockaddr_in6)) {
    auto* sin6 = reinterpret_cast<const sockaddr_in6*>(sa);
    return Endpoint{IpAddress::from_v6(sin6->sin6_addr), ntohs(sin6->sin6_port)};
  }
  return make_error(EAFNOSUPPORT, "socket address family " + std::to_string(sa->sa_family));
}

std::string Endpoint::to_string() const {
  return addr.is_v4() ? addr.to_string() + ":" + std::to_string(port)
                      : "[" + addr.to_string() + "]:" + std::to_string(port);
}

}  // namespace lrp
