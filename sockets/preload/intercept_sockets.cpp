// Socket life cycle and control calls: socket, bind, connect, names,
// options, fcntl, ioctl, dup, and the fork policy.
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "sockets/preload/datagram_io.h"
#include "sockets/preload/epoll_registry.h"
#include "sockets/preload/internal_fds.h"
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

// The child of a fork keeps its kernel sockets; sockets the parent served
// with lrp stay the parent's (see refuse_inherited).
void after_fork_in_child() {
  FdTable::get().reset_lock_after_fork();
  InternalFds::get().reset_lock_after_fork();
  EpollRegistry::get().reset_lock_after_fork();
  TakeoverStats::get().after_fork();
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
  if (fd < 0) return fd;
  if (InsideLrp::active()) return note_created(fd);
  if (!is_udp(domain, type, protocol)) return fd;
  auto s = std::make_shared<TrackedSocket>(domain, fd);
  s->nonblocking = (type & SOCK_NONBLOCK) != 0;
  if (!FdTable::get().insert(fd, s))
    TakeoverStats::get().kernel(
        KernelReason::FdRange, "udp socket (fd " + std::to_string(fd) + ")",
        "the fd number is beyond the " + std::to_string(FdTable::kMaxFd) + " the library tracks");
  return fd;
}

int bind(int fd, const sockaddr* addr, socklen_t len) {
  auto s = tracked(fd);
  if (s == nullptr) return libc().bind(fd, addr, len);
  if (s->inherited()) return refuse_inherited(fd);
  const int r = libc().bind(s->kernel_fd(), addr, len);
  // The kernel's answer is the program's, whatever lrp makes of the socket.
  if (r == 0) s->consider_takeover(fd);
  return r;
}

int connect(int fd, const sockaddr* addr, socklen_t len) {
  auto s = tracked(fd);
  if (s == nullptr) return libc().connect(fd, addr, len);
  if (s->inherited()) return refuse_inherited(fd);
  const int r = libc().connect(s->kernel_fd(), addr, len);
  if (r != 0 || addr == nullptr) return r;
  const int saved = errno;
  if (addr->sa_family == AF_UNSPEC) {
    s->after_connect(std::nullopt);
  } else if (auto remote = lrp::Endpoint::from_sockaddr(addr, len)) {
    if (s->taken())
      s->after_connect(remote.value());
    else
      s->consider_takeover(fd);
  }
  errno = saved;
  return r;
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
  if (r == 0) {
    const int saved = errno;
    s->note_option(level, name);
    errno = saved;
  }
  return r;
}

int getsockopt(int fd, int level, int name, void* value, socklen_t* len) {
  auto s = served(fd);
  return libc().getsockopt(s ? s->kernel_fd() : fd, level, name, value, len);
}

int shutdown(int fd, int how) {
  auto s = served(fd);
  if (s == nullptr) return libc().shutdown(fd, how);
  const int r = libc().shutdown(s->kernel_fd(), how);
  // The kernel marks an unconnected UDP socket shut down too, and says
  // ENOTCONN: programs use it to wake a thread blocked in a receive.
  if (r == 0 || errno == ENOTCONN) {
    const int saved = errno;
    s->note_shutdown(how);
    errno = saved;
  }
  return r;
}

static int fcntl_common(int (*real)(int, int, ...), int fd, int cmd, uintptr_t arg) {
  if (InsideLrp::active()) {
    const int r = real(fd, cmd, arg);
    return cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC ? note_created(r) : r;
  }
  auto s = served(fd);
  if (s == nullptr) {
    const int r = real(fd, cmd, arg);
    if (r >= 0 && (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC)) {
      if (auto t = tracked(fd)) FdTable::get().insert(r, t);
    }
    return r;
  }
  if (s->inherited()) return refuse_inherited(fd);
  switch (cmd) {
    case F_GETFL: {
      const int flags = real(s->kernel_fd(), F_GETFL);
      if (flags < 0) return flags;
      return (flags & ~O_NONBLOCK) | (s->nonblocking.load() ? O_NONBLOCK : 0);
    }
    case F_SETFL:
      // O_NONBLOCK is lrp's to honour, and the kernel socket's too (its
      // sends and the receives lrp passes to it).
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
    const int r = libc().ioctl(s->kernel_fd(), FIONBIO, arg);
    if (r == 0) s->nonblocking = *static_cast<int*>(arg) != 0;
    return r;
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

int dup(int fd) {
  const int copy = libc().dup(fd);
  if (copy < 0) return copy;
  if (InsideLrp::active()) return note_created(copy);
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
  if (FdTable::get().tracked(target)) forget_number(target);
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
