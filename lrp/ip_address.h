// IPv4 and IPv6 addresses in one 16-byte form, and UDP endpoints.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "lrp/result.h"

namespace lrp {

// IPv4 is kept v4-mapped (::ffff:a.b.c.d) so that one key type, one
// comparison and one hash serve both families, as in the XDP flow key.
class IpAddress {
 public:
  using Bytes = std::array<uint8_t, 16>;

  // The IPv4 any address 0.0.0.0: an unset bind address means IPv4 wildcard.
  constexpr IpAddress() : bytes_(kV4MappedPrefix) {}
  constexpr explicit IpAddress(const Bytes& bytes) : bytes_(bytes) {}

  static constexpr IpAddress any_v4() { return IpAddress(); }
  static constexpr IpAddress any_v6() { return IpAddress(Bytes{}); }
  static IpAddress from_v4(const in_addr& v4);
  static IpAddress from_v6(const in6_addr& v6);
  // From address bytes as they appear in a header (network order, any alignment).
  static IpAddress from_v4_bytes(const uint8_t* four);
  static IpAddress from_v6_bytes(const uint8_t* sixteen);
  // AF_INET or AF_INET6 only; the port is ignored.
  static Result<IpAddress> from_sockaddr(const sockaddr_storage& ss);
  // Dotted quad or RFC 4291 text; "::ffff:a.b.c.d" is the IPv4 address.
  static Result<IpAddress> parse(std::string_view text);

  bool is_v4() const;
  int family() const { return is_v4() ? AF_INET : AF_INET6; }
  // 0.0.0.0 for IPv4, :: for IPv6.
  bool is_any() const;

  const Bytes& bytes() const { return bytes_; }
  // The last four bytes: the IPv4 address in network order when is_v4().
  const uint8_t* v4_bytes() const { return bytes_.data() + 12; }
  in_addr to_v4() const;  // meaningful only when is_v4()
  in6_addr to_v6() const;
  // sockaddr_in or sockaddr_in6 by family; returns the length used.
  socklen_t to_sockaddr(uint16_t port, sockaddr_storage* out) const;

  std::string to_string() const;

  friend constexpr bool operator==(const IpAddress&, const IpAddress&) = default;
  friend constexpr auto operator<=>(const IpAddress&, const IpAddress&) = default;

 private:
  static constexpr Bytes kV4MappedPrefix = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0};

  Bytes bytes_;
};

struct Endpoint {
  IpAddress addr;
  uint16_t port = 0;  // host order

  static Result<Endpoint> from_sockaddr(const sockaddr* sa, socklen_t len);
  static Result<Endpoint> from_sockaddr(const sockaddr_storage& ss);
  socklen_t to_sockaddr(sockaddr_storage* out) const { return addr.to_sockaddr(port, out); }
  // "a.b.c.d:port" or "[v6]:port".
  std::string to_string() const;

  friend constexpr bool operator==(const Endpoint&, const Endpoint&) = default;
  friend constexpr auto operator<=>(const Endpoint&, const Endpoint&) = default;
};

}  // namespace lrp

template <>
struct std::hash<lrp::IpAddress> {
  size_t operator()(const lrp::IpAddress& a) const noexcept;
};

template <>
struct std::hash<lrp::Endpoint> {
  size_t operator()(const lrp::Endpoint& e) const noexcept;
};
