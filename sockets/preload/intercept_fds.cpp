// Calls that open or close fds outside the socket calls: close, close_range,
// closefrom, eventfd, epoll_create, socketpair, pipe, and syscall() for the
// system calls programs (and libbpf) make through it. They keep two things
// true: a number the program closes is forgotten by the fd table, and lrp's
// own fds are never closed by the program (see internal_fds.h).
#include <dlfcn.h>
#include <errno.h>
#include <linux/bpf.h>
#include <linux/close_range.h>
#include <stdarg.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include "sockets/preload/epoll_registry.h"
#include "sockets/preload/internal_fds.h"
#include "sockets/preload/io_uring_watch.h"
#include "sockets/preload/libc_calls.h"
#include "sockets/preload/socket_lookup.h"

using namespace lrp::preload;

namespace {

using SyscallFn = long (*)(long, ...);

SyscallFn real_syscall() {
  static const SyscallFn fn = reinterpret_cast<SyscallFn>(dlsym(RTLD_NEXT, "syscall"));
  return fn;
}

int real_close_range(unsigned first, unsigned last, int flags) {
  using Fn = int (*)(unsigned, unsigned, int);
  static const Fn fn = reinterpret_cast<Fn>(dlsym(RTLD_NEXT, "close_range"));
  if (fn != nullptr) return fn(first, last, flags);
  return static_cast<int>(real_syscall()(SYS_close_range, first, last, flags));
}

bool makes_bpf_fd(long cmd) {
  switch (cmd) {
    case BPF_MAP_CREATE:
    case BPF_PROG_LOAD:
    case BPF_OBJ_GET:
    case BPF_PROG_GET_FD_BY_ID:
    case BPF_MAP_GET_FD_BY_ID:
    case BPF_RAW_TRACEPOINT_OPEN:
    case BPF_BTF_LOAD:
    case BPF_BTF_GET_FD_BY_ID:
    case BPF_LINK_CREATE:
    case BPF_LINK_GET_FD_BY_ID:
    case BPF_ITER_CREATE:
      return true;
    default:
      return false;
  }
}

// close_range without lrp's fds: the program's numbers in [first, last] are
// forgotten and closed around them.
int close_program_range(unsigned first, unsigned last, int flags) {
  if (InsideLrp::active() || (flags & CLOSE_RANGE_CLOEXEC) != 0)
    return real_close_range(first, last, flags);
  if (first > last) {
    errno = EINVAL;
    return -1;
  }
  const unsigned top = std::min<unsigned>(last, FdTable::kMaxFd - 1);
  std::vector<int> numbers;
  FdTable::get().for_each([&](int fd, const std::shared_ptr<TrackedSocket>&) {
    if (static_cast<unsigned>(fd) >= first && static_cast<unsigned>(fd) <= last)
      numbers.push_back(fd);
  });
  for (int fd : numbers) forget_number(fd);
  std::vector<unsigned> kept;
  InternalFds& internal = InternalFds::get();
  for (unsigned fd = first; fd <= top; ++fd) {
    EpollRegistry::get().forget_epoll(static_cast<int>(fd));
    if (internal.maybe_internal(static_cast<int>(fd)) && internal.is_internal(static_cast<int>(fd)))
      kept.push_back(fd);
  }
  // lrp's fds are at most kMaxFd - 1, so k + 1 never wraps.
  unsigned start = first;
  for (unsigned k : kept) {
    if (k > start && real_close_range(start, k - 1, flags) != 0) return -1;
    start = k + 1;
  }
  if (start <= last && real_close_range(start, last, flags) != 0) return -1;
  return 0;
}

}  // namespace

namespace lrp::preload {

void forget_number(int fd) {
  auto gone = FdTable::get().remove(fd);
  EpollRegistry::get().forget_fd(fd);
  InsideLrp inside;
  gone.reset();
}

}  // namespace lrp::preload

extern "C" {

int close(int fd) {
  if (InsideLrp::active()) {
    InternalFds::get().unmark(fd);
    return libc().close(fd);
  }
  if (FdTable::get().tracked(fd)) {
    forget_number(fd);
  } else if (InternalFds::get().maybe_internal(fd) && InternalFds::get().is_internal(fd)) {
    // Not a number the program opened: as the kernel answers for one.
    errno = EBADF;
    return -1;
  }
  EpollRegistry::get().forget_epoll(fd);
  return libc().close(fd);
}

int close_range(unsigned first, unsigned last, int flags) {
  return close_program_range(first, last, flags);
}

void closefrom(int lowfd) {
  if (lowfd < 0) lowfd = 0;
  close_program_range(static_cast<unsigned>(lowfd), ~0u, 0);
}

int eventfd(unsigned int initval, int flags) {
  using Fn = int (*)(unsigned int, int);
  static const Fn real = reinterpret_cast<Fn>(dlsym(RTLD_NEXT, "eventfd"));
  return note_created(real(initval, flags));
}

int socketpair(int domain, int type, int protocol, int sv[2]) {
  using Fn = int (*)(int, int, int, int*);
  static const Fn real = reinterpret_cast<Fn>(dlsym(RTLD_NEXT, "socketpair"));
  const int r = real(domain, type, protocol, sv);
  if (r == 0 && InsideLrp::active()) {
    sv[0] = note_created(sv[0]);
    sv[1] = note_created(sv[1]);
  }
  return r;
}

int pipe2(int fds[2], int flags) {
  using Fn = int (*)(int*, int);
  static const Fn real = reinterpret_cast<Fn>(dlsym(RTLD_NEXT, "pipe2"));
  const int r = real(fds, flags);
  if (r == 0 && InsideLrp::active()) {
    fds[0] = note_created(fds[0]);
    fds[1] = note_created(fds[1]);
  }
  return r;
}

int pipe(int fds[2]) {
  return pipe2(fds, 0);
}

// Programs reach some system calls only through syscall(): io_uring_setup
// (the Rust io-uring crate, older liburing), close_range; libbpf makes
// every BPF call through it.
long syscall(long number, ...) {
  va_list ap;
  va_start(ap, number);
  long a[6];
  for (long& v : a) v = va_arg(ap, long);
  va_end(ap);
  switch (number) {
    case SYS_close:
      return close(static_cast<int>(a[0]));
    case SYS_close_range:
      return close_program_range(static_cast<unsigned>(a[0]), static_cast<unsigned>(a[1]),
                                 static_cast<int>(a[2]));
    case SYS_io_uring_setup: {
      const long r = real_syscall()(number, a[0], a[1], a[2], a[3], a[4], a[5]);
      if (r >= 0) io_uring_started();
      return r;
    }
    case SYS_bpf: {
      const long r = real_syscall()(number, a[0], a[1], a[2], a[3], a[4], a[5]);
      if (r >= 0 && makes_bpf_fd(a[0])) return note_created(static_cast<int>(r));
      return r;
    }
    default:
      return real_syscall()(number, a[0], a[1], a[2], a[3], a[4], a[5]);
  }
}

}  // extern "C"
