// How a waiting call behaves on lrp sockets: by lrp's one wait policy
// (sched/policy/wait_policy.h), per thread, in the configured mode.
// Interrupt sleeps in the kernel at once; poll spins until something is
// ready or the timeout passes; adaptive spins only while the learned gap
// between arrivals makes it pay (never longer than LRP_SPIN_US), lets
// arrivals batch on a short timer at medium load, and otherwise sleeps, so
// a busy server never sleeps and an idle one burns no CPU. Adaptive
// spinning is for one thread per core at a time (sched/runtime/core_seats.h).
#pragma once

#include <errno.h>
#include <sched.h>
#include <time.h>

#include <algorithm>
#include <cstdint>

#include "sched/policy/wait_policy.h"
#include "sched/runtime/core_seats.h"
#include "sockets/preload/signal_watch.h"

namespace lrp::preload {

struct WaitPolicy {
  enum class Kind { Interrupt, Poll, Adaptive };
  Kind kind = Kind::Adaptive;
  // How long a blocking receive spins before it sleeps, as the calling
  // thread's policy sees it when the wait begins.
  int64_t spin_ns = 0;
};

// The calling thread's view, taken at the start of a blocking receive's
// wait (each call counts as an arrival since the previous wait began).
const WaitPolicy& wait_policy();
// The configured mode alone, without counting anything.
WaitPolicy::Kind wait_kind();
// The calling thread's policy, for waits that drive it look by look.
sched::WaitPolicy& thread_wait_policy();

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

// A deferral: sleeps `ns` without being woken by arrivals.
void sleep_for_ns(int64_t ns);

// Between the looks of a spin: a spinner holds its core until the kernel
// preempts it, and what it waits for may need that core first (lrpd's
// engine pinned there, the thread that sends the reply), so it gives the
// core to any runnable thread at once.
inline void step_aside() {
  sched_yield();
}

// A multiplexer wait (poll, select, epoll_wait) over a set holding lrp
// sockets: call(0) for each look, then, when the policy says to sleep until
// an arrival, one call(remaining ms) whose answer is returned. call returns
// the number of ready fds or -1. A signal handled meanwhile ends the wait
// with EINTR, as it would end the kernel's.
template <class Call>
int spin_then_wait(Call&& call, int timeout_ms) {
  if (wait_kind() == WaitPolicy::Kind::Interrupt || timeout_ms == 0) return call(timeout_ms);
  sched::WaitPolicy& policy = thread_wait_policy();
  sched::CoreSeats& seats = sched::CoreSeats::instance();
  const uint64_t signals = signal_counts().any;
  const int64_t start = now_ns();
  const int64_t deadline = timeout_ms < 0 ? -1 : start + int64_t{timeout_ms} * 1'000'000;
  for (;;) {
    const int n = call(0);
    const int64_t now = now_ns();
    policy.on_poll(now, n > 0 ? static_cast<size_t>(n) : 0);
    const bool seated = seats.claim();
    if (n != 0) return n;
    if (signal_counts().any != signals) {
      errno = EINTR;
      return -1;
    }
    if (deadline >= 0 && now >= deadline) return 0;
    const sched::WaitStep step = policy.next(now, seated);
    if (step.kind == sched::WaitStep::Kind::Poll) {
      step_aside();
      continue;
    }
    seats.leave();
    if (step.kind == sched::WaitStep::Kind::Timer) {
      sleep_for_ns(deadline < 0 ? step.duration : std::min(step.duration, deadline - now));
      policy.on_wake(now_ns());
      continue;
    }
    const int r = call(remaining_ms(deadline));
    const int64_t woke = now_ns();
    policy.on_wake(woke);
    policy.on_poll(woke, r > 0 ? static_cast<size_t>(r) : 0);
    return r;
  }
}

}  // namespace lrp::preload
