// Readiness calls: poll, ppoll, select, pselect, epoll. A served socket's fd
// number is a real fd (its readiness epoll), so the kernel answers for lrp
// and kernel fds alike; the library only adds spinning by the mode and
// EPOLLOUT/POLLOUT for served sockets, which are always writable.
#include <errno.h>
#include <stdlib.h>

#include <vector>

#include "sockets/preload/epoll_registry.h"
#include "sockets/preload/internal_fds.h"
#include "sockets/preload/libc_calls.h"
#include "sockets/preload/socket_lookup.h"
#include "sockets/preload/wait_policy.h"

using namespace lrp::preload;

namespace {

constexpr short kOut = POLLOUT | POLLWRNORM;

bool is_served(int fd) {
  return FdTable::get().tracked(fd) && served(fd) != nullptr;
}

int timespec_ms(const timespec* ts) {
  if (ts == nullptr) return -1;
  const long long ms = ts->tv_sec * 1000LL + (ts->tv_nsec + 999'999) / 1'000'000;
  return ms > 1'000'000'000 ? 1'000'000'000 : static_cast<int>(ms);
}

timespec ms_timespec(int ms) {
  return timespec{ms / 1000, (ms % 1000) * 1'000'000L};
}

// What the readiness fd cannot say of a served socket it shows readable:
// - when lrp holds nothing for it, the readiness came from its kernel
//   socket, whose own poll answers (POLLERR for a pending ICMP error);
// - shut down for reading, the kernel adds POLLRDHUP (when asked) and, shut
//   both ways, POLLHUP.
void add_socket_bits(pollfd* fds, nfds_t n) {
  for (nfds_t i = 0; i < n; ++i) {
    if ((fds[i].revents & POLLIN) == 0 || !is_served(fds[i].fd)) continue;
    auto s = served(fds[i].fd);
    if (s == nullptr) continue;
    auto flow = s->flow();
    if (!s->has_held() && (flow == nullptr || flow->pending_count() == 0)) {
      pollfd k{s->kernel_fd(), static_cast<short>(fds[i].events & (POLLIN | POLLRDNORM)), 0};
      if (libc().poll(&k, 1, 0) >= 0 && (k.revents & POLLERR) != 0)
        fds[i].revents = static_cast<short>((fds[i].revents & ~(POLLIN | POLLRDNORM)) |
                                            (k.revents & (POLLIN | POLLRDNORM | POLLERR)));
    }
    const int shut = s->shut_down();
    if ((shut & TrackedSocket::kReadShut) == 0) continue;
    if ((fds[i].events & POLLRDHUP) != 0) fds[i].revents |= POLLRDHUP;
    if (shut == (TrackedSocket::kReadShut | TrackedSocket::kWriteShut)) fds[i].revents |= POLLHUP;
  }
}

template <class Real>
int poll_common(pollfd* fds, nfds_t n, int timeout_ms, Real&& real) {
  bool any = false;
  bool out = false;
  for (nfds_t i = 0; i < n; ++i) {
    if (!is_served(fds[i].fd)) continue;
    any = true;
    out = out || (fds[i].events & kOut) != 0;
  }
  if (!any) return real(fds, n, timeout_ms);
  if (!out) {
    const int r = spin_then_wait([&](int t) { return real(fds, n, t); }, timeout_ms);
    if (r > 0) add_socket_bits(fds, n);
    return r;
  }
  // Served sockets asked for writability: ready now; the kernel answers the rest.
  std::vector<short> wanted(n);
  for (nfds_t i = 0; i < n; ++i) {
    wanted[i] = fds[i].events;
    if (is_served(fds[i].fd)) fds[i].events &= static_cast<short>(~kOut);
  }
  const int r = real(fds, n, 0);
  if (r < 0) {
    for (nfds_t i = 0; i < n; ++i) fds[i].events = wanted[i];
    return r;
  }
  int ready = 0;
  for (nfds_t i = 0; i < n; ++i) {
    if (fds[i].events != wanted[i]) fds[i].revents |= static_cast<short>(wanted[i] & kOut);
    fds[i].events = wanted[i];
  }
  add_socket_bits(fds, n);
  for (nfds_t i = 0; i < n; ++i)
    if (fds[i].revents != 0) ++ready;
  return ready;
}

// select and pselect: the sets are rewritten by each kernel call, so the
// spinning loop starts every call from the program's sets.
template <class Real>
int select_common(int nfds, fd_set* rd, fd_set* wr, fd_set* ex, int timeout_ms, Real&& real) {
  bool any = false;
  fd_set served_out;
  FD_ZERO(&served_out);
  int out_count = 0;
  for (int fd = 0; fd < nfds && fd < FD_SETSIZE; ++fd) {
    const bool asked =
        (rd && FD_ISSET(fd, rd)) || (wr && FD_ISSET(fd, wr)) || (ex && FD_ISSET(fd, ex));
    if (!asked || !is_served(fd)) continue;
    any = true;
    if (wr && FD_ISSET(fd, wr)) {
      FD_SET(fd, &served_out);
      FD_CLR(fd, wr);
      ++out_count;
    }
  }
  if (!any) return real(nfds, rd, wr, ex, timeout_ms);
  fd_set rd0, wr0, ex0;
  if (rd) rd0 = *rd;
  if (wr) wr0 = *wr;
  if (ex) ex0 = *ex;
  auto call = [&](int t) {
    if (rd) *rd = rd0;
    if (wr) *wr = wr0;
    if (ex) *ex = ex0;
    int r = real(nfds, rd, wr, ex, t);
    if (r < 0 || out_count == 0) return r;
    for (int fd = 0; fd < nfds && fd < FD_SETSIZE; ++fd)
      if (FD_ISSET(fd, &served_out)) FD_SET(fd, wr);
    return r + out_count;
  };
  if (out_count > 0) return call(0);
  return spin_then_wait(call, timeout_ms);
}

}  // namespace

extern "C" {

int poll(pollfd* fds, nfds_t n, int timeout_ms) {
  if (InsideLrp::active()) return libc().poll(fds, n, timeout_ms);
  return poll_common(fds, n, timeout_ms,
                     [](pollfd* f, nfds_t k, int t) { return libc().poll(f, k, t); });
}

int ppoll(pollfd* fds, nfds_t n, const timespec* timeout, const sigset_t* mask) {
  if (InsideLrp::active()) return libc().ppoll(fds, n, timeout, mask);
  return poll_common(fds, n, timespec_ms(timeout), [mask](pollfd* f, nfds_t k, int t) {
    const timespec ts = ms_timespec(t);
    return libc().ppoll(f, k, t < 0 ? nullptr : &ts, mask);
  });
}

int __poll_chk(pollfd* fds, nfds_t n, int timeout_ms, size_t fds_len) {
  if (fds_len / sizeof(pollfd) < n) abort();
  return poll(fds, n, timeout_ms);
}

int select(int nfds, fd_set* rd, fd_set* wr, fd_set* ex, timeval* timeout) {
  if (InsideLrp::active()) return libc().select(nfds, rd, wr, ex, timeout);
  int ms = -1;
  if (timeout != nullptr) {
    const long long v = timeout->tv_sec * 1000LL + (timeout->tv_usec + 999) / 1000;
    ms = v > 1'000'000'000 ? 1'000'000'000 : static_cast<int>(v);
  }
  return select_common(nfds, rd, wr, ex, ms, [](int k, fd_set* r, fd_set* w, fd_set* e, int t) {
    timeval tv{t / 1000, (t % 1000) * 1000L};
    return libc().select(k, r, w, e, t < 0 ? nullptr : &tv);
  });
}

int pselect(int nfds, fd_set* rd, fd_set* wr, fd_set* ex, const timespec* timeout,
            const sigset_t* mask) {
  if (InsideLrp::active()) return libc().pselect(nfds, rd, wr, ex, timeout, mask);
  return select_common(nfds, rd, wr, ex, timespec_ms(timeout),
                       [mask](int k, fd_set* r, fd_set* w, fd_set* e, int t) {
                         const timespec ts = ms_timespec(t);
                         return libc().pselect(k, r, w, e, t < 0 ? nullptr : &ts, mask);
                       });
}

int epoll_create(int size) {
  return note_created(libc().epoll_create(size));
}
int epoll_create1(int flags) {
  return note_created(libc().epoll_create1(flags));
}

int epoll_ctl(int epfd, int op, int fd, epoll_event* event) {
  auto s = tracked(fd);
  if (s == nullptr || s->returned()) return libc().epoll_ctl(epfd, op, fd, event);
  if (s->inherited()) return refuse_inherited(fd);
  if (!s->taken()) {
    const int r = libc().epoll_ctl(epfd, op, fd, event);
    if (r == 0) EpollRegistry::get().note_early(epfd, op, fd, event);
    return r;
  }
  return EpollRegistry::get().ctl_served(epfd, op, fd, event);
}

static int epoll_common(int epfd, epoll_event* events, int max, int timeout_ms,
                        const sigset_t* mask) {
  auto real = [&](int t) {
    return mask != nullptr ? libc().epoll_pwait(epfd, events, max, t, mask)
                           : libc().epoll_wait(epfd, events, max, t);
  };
  EpollRegistry& registry = EpollRegistry::get();
  if (InsideLrp::active() || !registry.has_served(epfd)) return real(timeout_ms);
  if (registry.wants_out(epfd)) {
    const int n = real(0);
    if (n < 0) return n;
    const int total = registry.add_out_events(epfd, events, n, max);
    if (total > 0) return total;
  }
  const int n = spin_then_wait(real, timeout_ms);
  if (n > 0 && registry.wants_out(epfd)) return registry.add_out_events(epfd, events, n, max);
  return n;
}

int epoll_wait(int epfd, epoll_event* events, int max, int timeout_ms) {
  return epoll_common(epfd, events, max, timeout_ms, nullptr);
}

int epoll_pwait(int epfd, epoll_event* events, int max, int timeout_ms, const sigset_t* mask) {
  return epoll_common(epfd, events, max, timeout_ms, mask);
}

}  // extern "C"
