#include "tests/support/udp_peer.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "tests/support/netns.h"

namespace lrp::test {

static bool make_sockaddr(int family, const std::string& addr, uint16_t port, sockaddr_storage* out,
                          socklen_t* len) {
  std::memset(out, 0, sizeof(*out));
  if (family == AF_INET) {
    auto* sin = reinterpret_cast<sockaddr_in*>(out);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    *len = sizeof(*sin);
    return addr.empty() || inet_pton(AF_INET, addr.c_str(), &sin->sin_addr) == 1;
  }
  auto* sin6 = reinterpret_cast<sockaddr_in6*>(out);
  sin6->sin6_family = AF_INET6;
  sin6->sin6_port = htons(port);
  *len = sizeof(*sin6);
  return addr.empty() || inet_pton(AF_INET6, addr.c_str(), &sin6->sin6_addr) == 1;
}

UdpPeer::UdpPeer(const std::string& netns, int family, uint16_t bind_port) : family_(family) {
  NetnsGuard guard(netns);
  if (!guard.ok()) return;
  int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  int size = 8 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size));
  sockaddr_storage ss;
  socklen_t len;
  make_sockaddr(family, "", bind_port, &ss, &len);
  if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    close(fd);
    return;
  }
  getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  port_ = ntohs(family == AF_INET ? reinterpret_cast<sockaddr_in*>(&ss)->sin_port
                                  : reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
  fd_ = fd;
}

UdpPeer::~UdpPeer() {
  if (fd_ >= 0) close(fd_);
}

bool UdpPeer::send_to(const std::string& addr, uint16_t port, const std::string& payload) {
  sockaddr_storage ss;
  socklen_t len;
  if (!make_sockaddr(family_, addr, port, &ss, &len)) return false;
  return sendto(fd_, payload.data(), payload.size(), 0, reinterpret_cast<sockaddr*>(&ss), len) ==
         static_cast<ssize_t>(payload.size());
}

size_t UdpPeer::send_many(const std::string& addr, uint16_t port, size_t count,
                          size_t payload_size) {
  sockaddr_storage ss;
  socklen_t len;
  if (!make_sockaddr(family_, addr, port, &ss, &len)) return 0;
  constexpr size_t kBatch = 64;
  std::vector<char> payload(payload_size, 'x');
  iovec iov[kBatch];
  mmsghdr msgs[kBatch];
  for (size_t i = 0; i < kBatch; ++i) {
    iov[i] = {payload.data(), payload.size()};
    std::memset(&msgs[i], 0, sizeof(msgs[i]));
    msgs[i].msg_hdr.msg_name = &ss;
    msgs[i].msg_hdr.msg_namelen = len;
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  size_t sent = 0;
  int failures = 0;
  while (sent < count && failures < 1000) {
    const unsigned batch = static_cast<unsigned>(std::min(kBatch, count - sent));
    int n = sendmmsg(fd_, msgs, batch, 0);
    if (n <= 0) {
      ++failures;
      usleep(100);
      continue;
    }
    sent += static_cast<size_t>(n);
  }
  return sent;
}

bool UdpPeer::receive(std::string* payload, int timeout_ms, std::string* from_addr,
                      uint16_t* from_port) {
  pollfd pfd{fd_, POLLIN, 0};
  if (poll(&pfd, 1, timeout_ms) <= 0) return false;
  char buf[65536];
  sockaddr_storage ss;
  socklen_t len = sizeof(ss);
  ssize_t n = recvfrom(fd_, buf, sizeof(buf), MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&ss), &len);
  if (n < 0) return false;
  payload->assign(buf, static_cast<size_t>(n));
  char text[INET6_ADDRSTRLEN] = {};
  if (ss.ss_family == AF_INET) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &sin->sin_addr, text, sizeof(text));
    if (from_port != nullptr) *from_port = ntohs(sin->sin_port);
  } else {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &sin6->sin6_addr, text, sizeof(text));
    if (from_port != nullptr) *from_port = ntohs(sin6->sin6_port);
  }
  if (from_addr != nullptr) *from_addr = text;
  return true;
}

}  // namespace lrp::test
