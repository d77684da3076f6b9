// What the library must know about the program's epoll sets that hold
// sockets lrp serves. A served socket's number is a readiness epoll fd, so
// the kernel cannot apply every epoll flag to it:
// - EPOLLOUT: lrp sends never wait for socket buffer space, so a served
//   socket is always writable; its readiness fd only says readable, so
//   EPOLLOUT is answered here (level-triggered: every wait; EPOLLET: once
//   per registration and with every event the kernel reports for it;
//   EPOLLONESHOT: disarms the registration as the kernel would).
// - EPOLLEXCLUSIVE: the kernel refuses it for an epoll fd; the library
//   checks it as the kernel checks a socket's (no EPOLL_CTL_MOD, only the
//   flags the kernel allows with it) and registers without it.
// Registrations are kept so a socket given back to the kernel returns to
// the same sets with the program's own events.
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

  struct Registration {
    int epfd;
    int fd;
    epoll_event event;  // as the program gave it
    bool out_reported = false;
    bool disarmed = false;  // EPOLLONESHOT fired, until EPOLL_CTL_MOD
  };

  // epoll_ctl on a served fd, with the semantics above; the call's result.
  int ctl_served(int epfd, int op, int fd, epoll_event* event);
  bool has_served(int epfd) const {
    return epfd >= 0 && epfd < FdTable::kMaxFd && served_[epfd].load(std::memory_order_relaxed) > 0;
  }
  bool wants_out(int epfd) const {
    return epfd >= 0 && epfd < FdTable::kMaxFd && out_[epfd].load(std::memory_order_relaxed) > 0;
  }
  // After a wait on epfd returned `count` events: adds EPOLLOUT where due;
  // returns the new count.
  int add_out_events(int epfd, epoll_event* events, int count, int max);
  // The registrations of a served fd, removed from the registry.
  std::vector<Registration> take_registrations(int fd);
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
  void reset_lock_after_fork() { new (&mutex_) std::mutex(); }

 private:
  EpollRegistry() = default;
  void count(const Registration& r, int delta);
  std::mutex mutex_;
  std::vector<Registration> registrations_;
  std::vector<Early> early_;
  std::atomic<uint32_t> served_[FdTable::kMaxFd] = {};
  std::atomic<uint32_t> out_[FdTable::kMaxFd] = {};
};

}  // namespace lrp::preload
