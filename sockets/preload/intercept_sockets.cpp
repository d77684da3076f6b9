// Socket life cycle and control calls: socket, bind, connect, names,
// options, fcntl, ioctl, dup, close, and the fork policy.
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "sockets/preload/datagram_io.h"
#include "sockets/preload/epoll_registry.h"
#include "sockets/preload/libc_calls.h"
#include "sockets/preload/socket_lookup.h"

namespace lrp::preload {

int refuse_inherited(int fd) {
  Runtime::get().warn_once("inherited",
                           "fd " + std::to_string(fd) +
                               " is a UDP socket lrp serves for the parent process; a forked "
                               "child cannot use it (bind sockets after fork, or in the child)");
  errno = EBADFD;
  return -1;
}

namespace {

bool is_udp(int domain, int type, int protocol) {
  return (domain == AF_INET || domain == AF_INET6) && (type & 0xf) == SOCK_DGRAM &&
         (protocol == 0 || protocol == IPPROTO_UDP);
}

// Drops the program's number from the table; the socket goes when its last number does.
void forget(int fd) {
  auto gone = FdTable::get().remove(fd);
  EpollRegistry::get().forget_fd(fd);
  InsideLrp inside;
  gone.reset();
}

// The child of a fork keeps its kernel sockets; sockets the parent served
// with lrp stay the parent's (see refuse_inherited).
void after_fork_in_child() {
  FdTable::get().reset_lock_after_fork();
  Runtime::get().note_fork_child();
  FdTable::get().for_each([](int, const std::shared_ptr<TrackedSocket>& s) {
    if (s->taken()) s->mark_inherited();
  });
}

[[gnu::constructor]] void install_fork_handler() {
  pthread_atfork(nullptr, nullptr, after_fork_in_child);
}

}  // namespace

}  // namespace lrp::preload

using namespace lrp::preload;

extern "C" {

int socket(int domain, int type, int protocol) {
  const int fd = libc().socket(domain, type, protocol);
  if (fd < 0 || InsideLrp::active() || !is_udp(domain, type, protocol)) return fd;
  auto s = std::make_shared<TrackedSocket>(domain, fd);
  s->nonblocking = (type & SOCK_NONBLOCK) != 0;
  if (!FdTable::get().insert(fd, std::move(s)))
    Runtime::get().warn_once("fd-limit", "fd " + std::to_string(fd) +
                                             " is beyond the fds lrp tracks: stays on the kernel");
  return fd;
}

int bind(int fd, const sockaddr* addr, socklen_t len) {
  auto s = tracked(fd);
  if (s == nullptr) return libc().bind(fd, addr, len);
  if (s->inherited()) return refuse_inherited(fd);
  const int r = libc().bind(fd, addr, len);
  if (r != 0) return r;
  return s->consider_takeover(fd, std::nullopt);
}

int connect(int fd, const sockaddr* addr, socklen_t len) {
  auto s = tracked(fd);
  if (s == nullptr) return libc().connect(fd, addr, len);
  if (s->inherited()) return refuse_inherited(fd);
  const int r = libc().connect(s->kernel_fd(), addr, len);
  if (r != 0 || addr == nullptr) return r;
  if (addr->sa_family == AF_UNSPEC) {
    if (s->taken()) {
      Runtime::get().warn_once("disconnect",
                               "connect(AF_UNSPEC) on a socket lrp serves: lrp keeps "
                               "receiving only from the former peer");
      std::lock_guard lock(s->state_mutex);
      s->peer.reset();
    }
    return r;
  }
  auto remote = lrp::Endpoint::from_sockaddr(addr, len);
  if (!remote) return r;
  if (s->taken()) return s->connect_flow(remote.value());
  return s->consider_takeover(fd, remote.value());
}

int getsockname(int fd, sockaddr* addr, socklen_t* len) {
  auto s = served(fd);
  return libc().getsockname(s ? s->kernel_fd() : fd, addr, len);
}

int getpeername(int fd, sockaddr* addr, socklen_t* len) {
  auto s = served(fd);
  return libc().getpeername(s ? s->kernel_fd() : fd, addr, len);
}

int setsockopt(int fd, int level, int name, const void* value, socklen_t len) {
  auto s = tracked(fd);
  if (s == nullptr) return libc().setsockopt(fd, level, name, value, len);
  if (s->inherited()) return refuse_inherited(fd);
  // The kernel socket holds every option, so getsockopt answers as it would.
  const int r = libc().setsockopt(s->kernel_fd(), level, name, value, len);
  if (r == 0) s->note_option(level, name, value, len);
  return r;
}

int getsockopt(int fd, int level, int name, void* value, socklen_t* len) {
  auto s = served(fd);
  return libc().getsockopt(s ? s->kernel_fd() : fd, level, name, value, len);
}

int shutdown(int fd, int how) {
  auto s = served(fd);
  return libc().shutdown(s ? s->kernel_fd() : fd, how);
}

static int fcntl_common(int (*real)(int, int, ...), int fd, int cmd, uintptr_t arg) {
  auto s = served(fd);
  if (s == nullptr) return real(fd, cmd, arg);
  if (s->inherited()) return refuse_inherited(fd);
  switch (cmd) {
    case F_GETFL: {
      const int flags = real(s->kernel_fd(), F_GETFL);
      if (flags < 0) return flags;
      return (flags & ~O_NONBLOCK) | (s->nonblocking.load() ? O_NONBLOCK : 0);
    }
    case F_SETFL:
      // O_NONBLOCK is lrp's to honour; the rest goes to the kernel socket.
      s->nonblocking = (static_cast<int>(arg) & O_NONBLOCK) != 0;
      return real(s->kernel_fd(), F_SETFL, arg);
    case F_DUPFD:
    case F_DUPFD_CLOEXEC: {
      const int copy = real(fd, cmd, arg);
      if (copy >= 0) FdTable::get().insert(copy, s);
      return copy;
    }
    default:
      return real(fd, cmd, arg);  // F_GETFD/F_SETFD and the rest are about the number
  }
}

int fcntl(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  const uintptr_t arg = va_arg(ap, uintptr_t);
  va_end(ap);
  return fcntl_common(libc().fcntl, fd, cmd, arg);
}

int fcntl64(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  const uintptr_t arg = va_arg(ap, uintptr_t);
  va_end(ap);
  return fcntl_common(libc().fcntl64, fd, cmd, arg);
}

int ioctl(int fd, unsigned long request, ...) {
  va_list ap;
  va_start(ap, request);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  auto s = served(fd);
  if (s == nullptr) return libc().ioctl(fd, request, arg);
  if (s->inherited()) return refuse_inherited(fd);
  if (request == FIONBIO) {
    if (arg == nullptr) {
      errno = EFAULT;
      return -1;
    }
    s->nonblocking = *static_cast<int*>(arg) != 0;
    return 0;
  }
  if (request == FIONREAD) {
    if (arg == nullptr) {
      errno = EFAULT;
      return -1;
    }
    *static_cast<int*>(arg) = next_datagram_size(*s);
    return 0;
  }
  return libc().ioctl(s->kernel_fd(), request, arg);
}

int close(int fd) {
  if (InsideLrp::active()) return libc().close(fd);
  if (FdTable::get().tracked(fd)) forget(fd);
  EpollRegistry::get().forget_epoll(fd);
  return libc().close(fd);
}

int dup(int fd) {
  const int copy = libc().dup(fd);
  if (copy < 0) return copy;
  if (auto s = tracked(fd)) FdTable::get().insert(copy, s);
  return copy;
}

static int dup_onto(int fd, int target, int flags, bool dup2_style) {
  if (InsideLrp::active())
    return dup2_style ? libc().dup2(fd, target) : libc().dup3(fd, target, flags);
  auto s = tracked(fd);
  if (fd == target && dup2_style) return libc().dup2(fd, target);
  const int r = dup2_style ? libc().dup2(fd, target) : libc().dup3(fd, target, flags);
  if (r < 0) return r;
  if (FdTable::get().tracked(target)) forget(target);
  EpollRegistry::get().forget_epoll(target);
  if (s != nullptr) FdTable::get().insert(target, s);
  return r;
}

int dup2(int fd, int target) {
  return dup_onto(fd, target, 0, true);
}
int dup3(int fd, int target, int flags) {
  return dup_onto(fd, target, flags, false);
}

}  // extern "C"
