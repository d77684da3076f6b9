#include "sockets/api/kernel_socket.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <utility>

namespace lrp::sockets {

namespace {

Status set_int(int fd, int level, int name, int value, const std::string& what) {
  if (setsockopt(fd, level, name, &value, sizeof(value)) != 0) return errno_error(what);
  return {};
}

}  // namespace

Result<KernelSocket> KernelSocket::open(const BindSpec& bind, bool reuse_address) {
  KernelSocket s;
  s.v6_ = !bind.local.is_v4();
  const std::string what =
      "kernel socket for udp " + bind.local.to_string() + " port " + std::to_string(bind.port);
  s.fd_ = socket(s.v6_ ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (s.fd_ < 0) return errno_error("open " + what);
  s.owned_ = true;
  if (s.v6_) {
    LRP_TRY(set_int(s.fd_, IPPROTO_IPV6, IPV6_V6ONLY, 1, "IPv6 only on " + what));
    LRP_TRY(set_int(s.fd_, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1, "destination addresses on " + what));
  } else {
    LRP_TRY(set_int(s.fd_, IPPROTO_IP, IP_PKTINFO, 1, "destination addresses on " + what));
  }
  if (reuse_address)
    LRP_TRY(set_int(s.fd_, SOL_SOCKET, SO_REUSEADDR, 1, "reuse address on " + what));
  if (bind.reuseport) LRP_TRY(set_int(s.fd_, SOL_SOCKET, SO_REUSEPORT, 1, "reuseport on " + what));
  sockaddr_storage ss{};
  const socklen_t len = bind.local.to_sockaddr(bind.port, &ss);
  if (::bind(s.fd_, reinterpret_cast<sockaddr*>(&ss), len) != 0) return errno_error("bind " + what);
  socklen_t got = sizeof(ss);
  if (getsockname(s.fd_, reinterpret_cast<sockaddr*>(&ss), &got) != 0)
    return errno_error("read the port of " + what);
  auto local = Endpoint::from_sockaddr(ss);
  if (!local) return local.error();
  s.port_ = local->port;
  if (bind.remote.has_value()) LRP_TRY(s.connect(*bind.remote));
  return s;
}

KernelSocket KernelSocket::borrow(int fd) {
  KernelSocket s;
  s.fd_ = fd;
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
    s.v6_ = ss.ss_family == AF_INET6;
    if (auto local = Endpoint::from_sockaddr(ss)) s.port_ = local->port;
  }
  return s;
}

KernelSocket::KernelSocket(KernelSocket&& other) noexcept {
  *this = std::move(other);
}

KernelSocket& KernelSocket::operator=(KernelSocket&& other) noexcept {
  if (this != &other) {
    reset();
    fd_ = std::exchange(other.fd_, -1);
    owned_ = std::exchange(other.owned_, false);
    v6_ = other.v6_;
    port_ = other.port_;
  }
  return *this;
}

KernelSocket::~KernelSocket() {
  reset();
}

void KernelSocket::reset() {
  if (owned_ && fd_ >= 0) ::close(fd_);
  fd_ = -1;
  owned_ = false;
}

Status KernelSocket::connect(const Endpoint& remote) {
  sockaddr_storage ss{};
  const socklen_t len = remote.to_sockaddr(&ss);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&ss), len) != 0)
    return errno_error("connect the kernel socket of port " + std::to_string(port_) + " to " +
                       remote.to_string());
  return {};
}

Result<KernelDatagram> KernelSocket::receive(std::span<uint8_t> buffer) {
  sockaddr_storage from{};
  iovec iov{buffer.data(), buffer.size()};
  alignas(cmsghdr) uint8_t control[CMSG_SPACE(sizeof(in6_pktinfo))];
  msghdr msg{};
  msg.msg_name = &from;
  msg.msg_namelen = sizeof(from);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  const ssize_t n = recvmsg(fd_, &msg, MSG_DONTWAIT | MSG_TRUNC);
  if (n < 0) return errno_error("receive on the kernel socket of port " + std::to_string(port_));
  KernelDatagram d;
  d.datagram_size = static_cast<size_t>(n);
  d.size = std::min(buffer.size(), d.datagram_size);
  auto source = Endpoint::from_sockaddr(from);
  if (source) d.source = source.value();
  d.local.port = port_;
  d.local.addr = v6_ ? IpAddress::any_v6() : IpAddress::any_v4();
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
      in_pktinfo info;
      std::memcpy(&info, CMSG_DATA(c), sizeof(info));
      d.local.addr = IpAddress::from_v4(info.ipi_addr);
    } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
      in6_pktinfo info;
      std::memcpy(&info, CMSG_DATA(c), sizeof(info));
      d.local.addr = IpAddress::from_v6(info.ipi6_addr);
    }
  }
  return d;
}

Status KernelSocket::send(const Endpoint& to, std::span<const uint8_t> payload,
                          const IpAddress* from) {
  sockaddr_storage dst{};
  const socklen_t dst_len = to.to_sockaddr(&dst);
  iovec iov{const_cast<uint8_t*>(payload.data()), payload.size()};
  alignas(cmsghdr) uint8_t control[CMSG_SPACE(sizeof(in6_pktinfo))] = {};
  msghdr msg{};
  msg.msg_name = &dst;
  msg.msg_namelen = dst_len;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (from != nullptr && !from->is_any()) {
    msg.msg_control = control;
    cmsghdr* c = reinterpret_cast<cmsghdr*>(control);
    if (from->is_v4()) {
      in_pktinfo info{};
      sockaddr_storage ss{};
      from->to_sockaddr(0, &ss);
      info.ipi_spec_dst = reinterpret_cast<sockaddr_in*>(&ss)->sin_addr;
      c->cmsg_level = IPPROTO_IP;
      c->cmsg_type = IP_PKTINFO;
      c->cmsg_len = CMSG_LEN(sizeof(info));
      std::memcpy(CMSG_DATA(c), &info, sizeof(info));
      msg.msg_controllen = CMSG_SPACE(sizeof(info));
    } else {
      in6_pktinfo info{};
      sockaddr_storage ss{};
      from->to_sockaddr(0, &ss);
      info.ipi6_addr = reinterpret_cast<sockaddr_in6*>(&ss)->sin6_addr;
      c->cmsg_level = IPPROTO_IPV6;
      c->cmsg_type = IPV6_PKTINFO;
      c->cmsg_len = CMSG_LEN(sizeof(info));
      std::memcpy(CMSG_DATA(c), &info, sizeof(info));
      msg.msg_controllen = CMSG_SPACE(sizeof(info));
    }
  }
  if (sendmsg(fd_, &msg, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
    return errno_error("send from the kernel socket of port " + std::to_string(port_) + " to " +
                       to.to_string());
  return {};
}

}  // namespace lrp::sockets
