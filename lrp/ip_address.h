// IPv4 and IPv6 addresses in one 16-byte form (IPv4 as ::ffff:a.b.c.d), and
// an address with a port.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <string_view>

#include "lrp/result.h"

namespace lrp {

class IpAddress {
 public:
  // The IPv4 any address.
  IpAddress() { bytes_[10] = 0xff; bytes_[11] = 0xff; }
  static IpAddress any_v4();
  static IpAddress any_v6();
  static IpAddress from_v4(const in_addr& a);
  static IpAddress from_v4_bytes(const uint8_t* four);
  static IpAddress from_v6(const in6_addr& a);
  static Result<IpAddress> parse(std::string_view text);

  bool is_v4() const;
  int family() const { return is_v4() ? AF_INET : AF_INET6; }
  bool is_any() const;
  const std::array<uint8_t, 16>& bytes() const { return bytes_; }
  // The last four bytes: the IPv4 address in network order.
  const uint8_t* v4_bytes() const { return bytes_.data() + 12; }
  in_addr to_v4() const;
  in6_addr to_v6() const;
  std::string to_string() const;

  bool operator==(const IpAddress& o) const { return bytes_ == o.bytes_; }
  bool operator!=(const IpAddress& o) const { return !(*this == o); }
  bool operator<(const IpAddress& o) const { return bytes_ < o.bytes_; }

 private:
  std::array<uint8_t, 16> bytes_{};
};

struct Endpoint {
  IpAddress addr;
  uint16_t port = 0;  // host byte order

  bool operator==(const Endpoint& o) const { return addr == o.addr && port == o.port; }
  // A socket address of the endpoint's family; returns its length.
  socklen_t to_sockaddr(sockaddr_storage* out) const;
  static Result<Endpoint> from_sockaddr(const sockaddr* sa, socklen_t len);
  std::string to_string() const;
};

}  // namespace lrp

template <>
struct std::hash<lrp::IpAddress> {
  size_t operator()(const lrp::IpAddress& a) const noexcept {
    uint64_t hi, lo;
    std::memcpy(&hi, a.bytes().data(), 8);
    std::memcpy(&lo, a.bytes().data() + 8, 8);
    return std::hash<uint64_t>()(hi * 0x9e3779b97f4a7c15ULL ^ lo);
  }
};
