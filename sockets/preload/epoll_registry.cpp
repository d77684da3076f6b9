#include "sockets/preload/epoll_registry.h"

#include <errno.h>

#include <algorithm>

#include "sockets/preload/libc_calls.h"

namespace lrp::preload {

namespace {

// The flags the kernel accepts together with EPOLLEXCLUSIVE.
constexpr uint32_t kExclusiveOk =
    EPOLLIN | EPOLLOUT | EPOLLERR | EPOLLHUP | EPOLLWAKEUP | EPOLLET | EPOLLEXCLUSIVE;

int fail(int code) {
  errno = code;
  return -1;
}

}  // namespace

EpollRegistry& EpollRegistry::get() {
  static EpollRegistry* registry = new EpollRegistry();
  return *registry;
}

void EpollRegistry::count(const Registration& r, int delta) {
  if (r.epfd < 0 || r.epfd >= FdTable::kMaxFd) return;
  served_[r.epfd].fetch_add(static_cast<uint32_t>(delta), std::memory_order_relaxed);
  if ((r.event.events & EPOLLOUT) != 0)
    out_[r.epfd].fetch_add(static_cast<uint32_t>(delta), std::memory_order_relaxed);
}

int EpollRegistry::ctl_served(int epfd, int op, int fd, epoll_event* event) {
  if (op != EPOLL_CTL_DEL && event == nullptr) return libc().epoll_ctl(epfd, op, fd, event);
  std::lock_guard lock(mutex_);
  auto it = std::find_if(registrations_.begin(), registrations_.end(),
                         [&](const Registration& r) { return r.epfd == epfd && r.fd == fd; });
  if (op == EPOLL_CTL_MOD && it != registrations_.end() && (it->event.events & EPOLLEXCLUSIVE) != 0)
    return fail(EINVAL);
  if (op != EPOLL_CTL_DEL && (event->events & EPOLLEXCLUSIVE) != 0) {
    if (op == EPOLL_CTL_MOD || (event->events & ~kExclusiveOk) != 0) return fail(EINVAL);
  }
  epoll_event kernel_event{};
  if (op != EPOLL_CTL_DEL) {
    kernel_event = *event;
    kernel_event.events &= ~static_cast<uint32_t>(EPOLLOUT | EPOLLEXCLUSIVE);
  }
  const int r = libc().epoll_ctl(epfd, op, fd, op == EPOLL_CTL_DEL ? nullptr : &kernel_event);
  if (r != 0) return r;
  if (it != registrations_.end()) {
    count(*it, -1);
    registrations_.erase(it);
  }
  if (op == EPOLL_CTL_DEL) return 0;
  registrations_.push_back(Registration{epfd, fd, *event});
  count(registrations_.back(), 1);
  return 0;
}

int EpollRegistry::add_out_events(int epfd, epoll_event* events, int count, int max) {
  std::lock_guard lock(mutex_);
  for (auto& r : registrations_) {
    if (r.epfd != epfd || (r.event.events & EPOLLOUT) == 0 || r.disarmed) continue;
    const bool oneshot = (r.event.events & EPOLLONESHOT) != 0;
    epoll_event* same = std::find_if(events, events + count, [&](const epoll_event& e) {
      return e.data.u64 == r.event.data.u64;
    });
    if (same != events + count) {
      // The kernel reported the registration: its events are the socket's
      // whole state, writability included (and a one-shot is now disarmed).
      same->events |= EPOLLOUT;
      r.out_reported = true;
      r.disarmed = oneshot;
      continue;
    }
    if ((r.event.events & EPOLLET) != 0 && r.out_reported) continue;
    if (count >= max) continue;
    events[count].events = EPOLLOUT;
    events[count].data = r.event.data;
    ++count;
    r.out_reported = true;
    if (oneshot) {
      // Disarm the kernel's half too, until the program's EPOLL_CTL_MOD.
      r.disarmed = true;
      epoll_event off{};
      off.events = EPOLLONESHOT;
      off.data = r.event.data;
      libc().epoll_ctl(epfd, EPOLL_CTL_MOD, r.fd, &off);
    }
  }
  return count;
}

std::vector<EpollRegistry::Registration> EpollRegistry::take_registrations(int fd) {
  std::lock_guard lock(mutex_);
  std::vector<Registration> taken;
  for (auto it = registrations_.begin(); it != registrations_.end();) {
    if (it->fd == fd) {
      count(*it, -1);
      taken.push_back(*it);
      it = registrations_.erase(it);
    } else {
      ++it;
    }
  }
  return taken;
}

void EpollRegistry::note_early(int epfd, int op, int fd, const epoll_event* event) {
  std::lock_guard lock(mutex_);
  auto it = std::find_if(early_.begin(), early_.end(),
                         [&](const Early& e) { return e.epfd == epfd && e.fd == fd; });
  if (op == EPOLL_CTL_DEL) {
    if (it != early_.end()) early_.erase(it);
    return;
  }
  if (event == nullptr) return;
  if (it != early_.end())
    it->event = *event;
  else
    early_.push_back(Early{epfd, fd, *event});
}

std::vector<EpollRegistry::Early> EpollRegistry::take_early(int fd) {
  std::lock_guard lock(mutex_);
  std::vector<Early> taken;
  for (auto it = early_.begin(); it != early_.end();) {
    if (it->fd == fd) {
      taken.push_back(*it);
      it = early_.erase(it);
    } else {
      ++it;
    }
  }
  return taken;
}

void EpollRegistry::forget_fd(int fd) {
  std::lock_guard lock(mutex_);
  early_.erase(
      std::remove_if(early_.begin(), early_.end(), [&](const Early& e) { return e.fd == fd; }),
      early_.end());
  for (auto it = registrations_.begin(); it != registrations_.end();) {
    if (it->fd == fd) {
      count(*it, -1);
      it = registrations_.erase(it);
    } else {
      ++it;
    }
  }
}

void EpollRegistry::forget_epoll(int epfd) {
  if (epfd < 0 || epfd >= FdTable::kMaxFd) return;
  if (served_[epfd].load(std::memory_order_relaxed) == 0 &&
      out_[epfd].load(std::memory_order_relaxed) == 0)
    return;
  std::lock_guard lock(mutex_);
  served_[epfd].store(0, std::memory_order_relaxed);
  out_[epfd].store(0, std::memory_order_relaxed);
  registrations_.erase(std::remove_if(registrations_.begin(), registrations_.end(),
                                      [&](const Registration& r) { return r.epfd == epfd; }),
                       registrations_.end());
  early_.erase(
      std::remove_if(early_.begin(), early_.end(), [&](const Early& e) { return e.epfd == epfd; }),
      early_.end());
}

}  // namespace lrp::preload
