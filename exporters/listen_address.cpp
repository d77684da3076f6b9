#include "exporters/listen_address.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <charconv>

namespace lrp::exporters {

std::string ListenAddress::server_form() const {
  const std::string p = std::to_string(port);
  return v6 ? "[" + host + "]:" + p : host + ":" + p;
}

Result<ListenAddress> parse_listen_address(const std::string& text) {
  auto invalid = [&] {
    return make_error(EINVAL, "metrics: '" + text +
                                  "' is not HOST:PORT (HOST: an IPv4 address, [IPv6 address] "
                                  "or localhost)");
  };
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) return invalid();
  ListenAddress a;
  std::string host = text.substr(0, colon);
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') return invalid();
    host = host.substr(1, host.size() - 2);
    a.v6 = true;
  }
  if (host == "localhost") host = "127.0.0.1";
  unsigned char buf[sizeof(in6_addr)];
  if (inet_pton(a.v6 ? AF_INET6 : AF_INET, host.c_str(), buf) != 1) return invalid();
  a.host = host;
  const char* first = text.data() + colon + 1;
  const char* last = text.data() + text.size();
  unsigned port = 0;
  auto [end, ec] = std::from_chars(first, last, port);
  if (ec != std::errc() || end != last || port > 65535) return invalid();
  a.port = static_cast<uint16_t>(port);
  return a;
}

Status check_can_listen(const ListenAddress& address, const std::string& text) {
  const std::string what = "metrics: cannot listen on " + text;
  const int fd = socket(address.v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return errno_error(what);
  const int one = 1;
  // The web server sets SO_REUSEADDR too: a port in TIME_WAIT is usable.
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_storage ss{};
  socklen_t len;
  if (address.v6) {
    auto* sa = reinterpret_cast<sockaddr_in6*>(&ss);
    sa->sin6_family = AF_INET6;
    sa->sin6_port = htons(address.port);
    inet_pton(AF_INET6, address.host.c_str(), &sa->sin6_addr);
    len = sizeof(*sa);
  } else {
    auto* sa = reinterpret_cast<sockaddr_in*>(&ss);
    sa->sin_family = AF_INET;
    sa->sin_port = htons(address.port);
    inet_pton(AF_INET, address.host.c_str(), &sa->sin_addr);
    len = sizeof(*sa);
  }
  const int rc = bind(fd, reinterpret_cast<sockaddr*>(&ss), len);
  const int err = errno;
  close(fd);
  if (rc != 0) return make_error(err, what);
  return {};
}

}  // namespace lrp::exporters
