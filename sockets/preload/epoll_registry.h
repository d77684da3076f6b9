// What the library must know about the program's epoll sets: which hold
// sockets lrp serves (so epoll_wait on them spins by the mode), and which
// asked EPOLLOUT of such a socket. lrp sends never wait for socket buffer
// space, so a served socket is always writable; its readiness fd only says
// readable, so EPOLLOUT is answered here.
#pragma once

#include <sys/epoll.h>

#include <atomic>
#include <mutex>
#include <vector>

#include "sockets/preload/fd_table.h"

namespace lrp::preload {

class EpollRegistry {
 public:
  static EpollRegistry& get();

  // Records an epoll_ctl on a served fd after the kernel accepted it (with
  // EPOLLOUT taken out of the events it was given).
  void note(int epfd, int op, int fd, const epoll_event* event);
  bool has_served(int epfd) const {
    return epfd >= 0 && epfd < FdTable::kMaxFd && served_[epfd].load(std::memory_order_relaxed) > 0;
  }
  bool wants_out(int epfd) const {
    return epfd >= 0 && epfd < FdTable::kMaxFd && out_[epfd].load(std::memory_order_relaxed) > 0;
  }
  // Adds EPOLLOUT events for served fds registered with it; returns the new count.
  int add_out_events(int epfd, epoll_event* events, int count, int max);
  void forget_fd(int fd);
  void forget_epoll(int epfd);

  // A UDP socket put in an epoll set before lrp took it over: the set
  // watches the kernel socket's file. Recorded so the takeover can move the
  // registration to the readiness fd that replaces it at the same number.
  void note_early(int epfd, int op, int fd, const epoll_event* event);
  struct Early {
    int epfd;
    int fd;
    epoll_event event;
  };
  std::vector<Early> take_early(int fd);

 private:
  EpollRegistry() = default;
  struct OutWatch {
    int epfd;
    int fd;
    epoll_data_t data;
    bool edge;
    bool reported;
  };
  std::mutex mutex_;
  std::vector<OutWatch> watches_;
  std::vector<Early> early_;
  std::atomic<uint32_t> served_[FdTable::kMaxFd] = {};
  std::atomic<uint32_t> out_[FdTable::kMaxFd] = {};
};

}  // namespace lrp::preload
