#include "service/daemon/kernel_socket.h"

#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <cstring>

namespace lrp::service {

static Result<int> int_option(int fd, int level, int name, const char* what) {
  int value = 0;
  socklen_t len = sizeof(value);
  if (getsockopt(fd, level, name, &value, &len) != 0)
    return errno_error(std::string("read ") + what + " of the passed socket");
  return value;
}

Result<KernelSocketInfo> inspect_kernel_socket(int fd) {
  KernelSocketInfo info;
  struct stat st {};
  if (fstat(fd, &st) != 0) return errno_error("inspect the passed descriptor");
  if (!S_ISSOCK(st.st_mode)) return make_error(EBADF, "the passed descriptor is not a socket");
  info.device = st.st_dev;
  info.inode = st.st_ino;
  auto type = int_option(fd, SOL_SOCKET, SO_TYPE, "SO_TYPE");
  if (!type) return type.error();
  auto protocol = int_option(fd, SOL_SOCKET, SO_PROTOCOL, "SO_PROTOCOL");
  if (!protocol) return protocol.error();
  if (type.value() != SOCK_DGRAM || protocol.value() != IPPROTO_UDP)
    return make_error(EPROTOTYPE, "the passed socket is not a UDP socket");
  auto domain = int_option(fd, SOL_SOCKET, SO_DOMAIN, "SO_DOMAIN");
  if (!domain) return domain.error();
  if (domain.value() != AF_INET && domain.value() != AF_INET6)
    return make_error(EAFNOSUPPORT, "the passed socket is neither IPv4 nor IPv6");

  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0)
    return errno_error("getsockname of the passed socket");
  auto local = Endpoint::from_sockaddr(ss);
  if (!local) return local.error();
  if (local->port == 0) return make_error(EINVAL, "the passed socket is not bound to a port");
  info.local = local.value();

  ss = {};
  len = sizeof(ss);
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
    auto remote = Endpoint::from_sockaddr(ss);
    if (!remote) return remote.error();
    info.remote = remote.value();
  } else if (errno != ENOTCONN) {
    return errno_error("getpeername of the passed socket");
  }

  auto reuseport = int_option(fd, SOL_SOCKET, SO_REUSEPORT, "SO_REUSEPORT");
  if (!reuseport) return reuseport.error();
  info.reuseport = reuseport.value() != 0;
  if (domain.value() == AF_INET6 && info.local.addr.is_any() && !info.local.addr.is_v4()) {
    auto v6only = int_option(fd, IPPROTO_IPV6, IPV6_V6ONLY, "IPV6_V6ONLY");
    if (!v6only) return v6only.error();
    info.dual_stack = v6only.value() == 0;
  }
  char device[IFNAMSIZ + 1] = {};
  socklen_t dlen = IFNAMSIZ;
  if (getsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, device, &dlen) != 0)
    return errno_error("read SO_BINDTODEVICE of the passed socket");
  info.bound_device = std::string(device, strnlen(device, dlen));
  return info;
}

}  // namespace lrp::service
