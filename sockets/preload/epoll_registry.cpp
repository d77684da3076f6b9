#include "sockets/preload/epoll_registry.h"

#include <algorithm>

namespace lrp::preload {

EpollRegistry& EpollRegistry::get() {
  static EpollRegistry* registry = new EpollRegistry();
  return *registry;
}

void EpollRegistry::note(int epfd, int op, int fd, const epoll_event* event) {
  if (epfd < 0 || epfd >= FdTable::kMaxFd) return;
  std::lock_guard lock(mutex_);
  auto it = std::find_if(watches_.begin(), watches_.end(),
                         [&](const OutWatch& w) { return w.epfd == epfd && w.fd == fd; });
  if (it != watches_.end()) {
    watches_.erase(it);
    out_[epfd].fetch_sub(1, std::memory_order_relaxed);
  }
  if (op == EPOLL_CTL_ADD) served_[epfd].fetch_add(1, std::memory_order_relaxed);
  if (op == EPOLL_CTL_DEL) {
    if (served_[epfd].load(std::memory_order_relaxed) > 0)
      served_[epfd].fetch_sub(1, std::memory_order_relaxed);
    return;
  }
  if (event != nullptr && (event->events & EPOLLOUT) != 0) {
    watches_.push_back(OutWatch{epfd, fd, event->data, (event->events & EPOLLET) != 0, false});
    out_[epfd].fetch_add(1, std::memory_order_relaxed);
  }
}

int EpollRegistry::add_out_events(int epfd, epoll_event* events, int count, int max) {
  std::lock_guard lock(mutex_);
  for (auto& w : watches_) {
    if (w.epfd != epfd || (w.edge && w.reported)) continue;
    w.reported = true;
    epoll_event* same = std::find_if(
        events, events + count, [&](const epoll_event& e) { return e.data.u64 == w.data.u64; });
    if (same != events + count) {
      same->events |= EPOLLOUT;
    } else if (count < max) {
      events[count].events = EPOLLOUT;
      events[count].data = w.data;
      ++count;
    }
  }
  return count;
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
  for (auto it = watches_.begin(); it != watches_.end();) {
    if (it->fd == fd) {
      out_[it->epfd].fetch_sub(1, std::memory_order_relaxed);
      it = watches_.erase(it);
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
  watches_.erase(std::remove_if(watches_.begin(), watches_.end(),
                                [&](const OutWatch& w) { return w.epfd == epfd; }),
                 watches_.end());
}

}  // namespace lrp::preload
