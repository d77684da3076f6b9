#include "sockets/preload/internal_fds.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <new>

#include "sockets/preload/fd_reserve.h"
#include "sockets/preload/libc_calls.h"
#include "sockets/preload/runtime.h"

namespace lrp::preload {

InternalFds& InternalFds::get() {
  static InternalFds* fds = new InternalFds();
  return *fds;
}

void InternalFds::mark(int fd) {
  if (fd < 0 || fd >= FdTable::kMaxFd) return;
  struct stat st {};
  if (::fstat(fd, &st) != 0) return;
  std::lock_guard lock(mutex_);
  identity_[fd] = Identity{st.st_dev, st.st_ino};
  if (!marked_[fd].exchange(true, std::memory_order_relaxed))
    count_.fetch_add(1, std::memory_order_relaxed);
}

void InternalFds::unmark(int fd) {
  if (!maybe_internal(fd)) return;
  std::lock_guard lock(mutex_);
  if (marked_[fd].exchange(false, std::memory_order_relaxed))
    count_.fetch_sub(1, std::memory_order_relaxed);
}

bool InternalFds::is_internal(int fd) {
  if (!maybe_internal(fd)) return false;
  struct stat st {};
  const bool open = ::fstat(fd, &st) == 0;
  std::lock_guard lock(mutex_);
  if (!marked_[fd].load(std::memory_order_relaxed)) return false;
  if (open && st.st_dev == identity_[fd].dev && st.st_ino == identity_[fd].ino) return true;
  // Closed behind the library's back and the number reused: the program's now.
  marked_[fd].store(false, std::memory_order_relaxed);
  count_.fetch_sub(1, std::memory_order_relaxed);
  return false;
}

int note_created(int fd) {
  if (fd < 0 || !InsideLrp::active()) return fd;
  const int base = FdReserve::get().base();
  if (fd < base) {
    const int moved = libc().fcntl(fd, F_DUPFD_CLOEXEC, base);
    if (moved >= 0) {
      libc().close(fd);
      fd = moved;
    }
  }
  const int flags = libc().fcntl(fd, F_GETFD);
  if (flags >= 0 && (flags & FD_CLOEXEC) == 0) libc().fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
  InternalFds::get().mark(fd);
  return fd;
}

}  // namespace lrp::preload
