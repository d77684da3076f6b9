// How a waiting call behaves on lrp sockets, by the configured mode:
// interrupt sleeps in the kernel at once, poll spins until something is
// ready or the timeout passes, adaptive spins for a short while (LRP_SPIN_US)
// and then sleeps, so a busy server never sleeps and an idle one burns no CPU.
#pragma once

#include <errno.h>
#include <time.h>

#include <cstdint>

#include "sockets/preload/signal_watch.h"

namespace lrp::preload {

struct WaitPolicy {
  enum class Kind { Interrupt, Poll, Adaptive };
  Kind kind = Kind::Adaptive;
  int64_t spin_ns = 50'000;
};

const WaitPolicy& wait_policy();

inline int64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1'000'000'000LL + ts.tv_nsec;
}

// Milliseconds left until deadline_ns (rounded up); -1 when there is none.
inline int remaining_ms(int64_t deadline_ns) {
  if (deadline_ns < 0) return -1;
  const int64_t left = deadline_ns - now_ns();
  return left <= 0 ? 0 : static_cast<int>((left + 999'999) / 1'000'000);
}

// A multiplexer wait (poll, select, epoll_wait) over a set holding lrp
// sockets: call(0) while spinning, then call(remaining ms). call returns
// the number of ready fds or -1. A signal handled meanwhile ends the wait
// with EINTR, as it would end the kernel's.
template <class Call>
int spin_then_wait(Call&& call, int timeout_ms) {
  const WaitPolicy& p = wait_policy();
  if (p.kind == WaitPolicy::Kind::Interrupt || timeout_ms == 0) return call(timeout_ms);
  const uint64_t signals = signal_counts().any;
  const int64_t start = now_ns();
  const int64_t deadline = timeout_ms < 0 ? -1 : start + int64_t{timeout_ms} * 1'000'000;
  for (;;) {
    const int n = call(0);
    if (n != 0) return n;
    if (signal_counts().any != signals) {
      errno = EINTR;
      return -1;
    }
    const int64_t now = now_ns();
    if (deadline >= 0 && now >= deadline) return 0;
    if (p.kind == WaitPolicy::Kind::Adaptive && now - start >= p.spin_ns) break;
  }
  return call(remaining_ms(deadline));
}

}  // namespace lrp::preload
