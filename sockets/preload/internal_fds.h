// The fds lrp itself opened in the program's process (AF_XDP and netlink
// sockets, BPF objects, epoll and eventfd readiness fds, the hidden kernel
// sockets). They are not the program's: a close, close_range or closefrom
// of the program never closes them (close answers EBADF, as for a number
// the program never opened), and they are lrp's fd budget.
//
// An fd is marked when one of the library's interposed calls creates it on
// a thread inside lrp (InsideLrp), and unmarked when lrp closes it. Such fds
// are placed above the numbers the program allocates from, so they never
// take a number the program expects (select's FD_SETSIZE, dup2 onto 0-2,
// loops closing every fd below the limit). Each mark
// keeps the file's identity, so a mark that went stale (closed by a path the
// library did not see) never keeps the program from closing its own file.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <mutex>

#include "sockets/preload/fd_table.h"

namespace lrp::preload {

class InternalFds {
 public:
  static InternalFds& get();

  void mark(int fd);
  void unmark(int fd);
  // Marked and still the same file.
  bool is_internal(int fd);
  bool maybe_internal(int fd) const {
    return fd >= 0 && fd < FdTable::kMaxFd && marked_[fd].load(std::memory_order_relaxed);
  }
  size_t count() const { return count_.load(std::memory_order_relaxed); }
  void reset_lock_after_fork() { new (&mutex_) std::mutex(); }

 private:
  InternalFds() = default;
  struct Identity {
    dev_t dev = 0;
    ino_t ino = 0;
  };
  std::mutex mutex_;
  std::atomic<bool> marked_[FdTable::kMaxFd] = {};
  Identity identity_[FdTable::kMaxFd] = {};
  std::atomic<size_t> count_{0};
};

// For an fd just created by a call the library interposes: when the calling
// thread is inside lrp, moves it above the program's fd range (the soft
// RLIMIT_NOFILE the program started with, which the stack raised by lrp's
// reserve), makes it close-on-exec and marks it. Returns the fd to hand
// back to the caller.
int note_created(int fd);

}  // namespace lrp::preload
