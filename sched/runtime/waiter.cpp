#include "sched/runtime/waiter.h"

#include <poll.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <time.h>

#include <algorithm>

#include "sched/runtime/core_seats.h"

namespace lrp::sched {

namespace {

timespec to_timespec(Nanos ns) {
  ns = std::max<Nanos>(ns, 0);
  return timespec{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
}

// Deferral timers are tens of microseconds; the default timer slack of a
// normal thread (50 us) would stretch them several times over. Set once
// per thread that waits.
void tighten_timer_slack() {
  static thread_local bool done = false;
  if (done) return;
  done = true;
  prctl(PR_SET_TIMERSLACK, 1'000UL, 0, 0, 0);
}

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  // Fewer reads of the rings' producer lines while another core writes them.
  for (int i = 0; i < 4; ++i) __builtin_ia32_pause();
#endif
}

}  // namespace

bool wait_readable(int fd, bool is_epoll, Nanos timeout, uint64_t* tag) {
  const timespec ts = to_timespec(timeout);
  if (is_epoll) {
    epoll_event ev;
    if (epoll_pwait2(fd, &ev, 1, &ts, nullptr) <= 0) return false;
    if (tag != nullptr) *tag = ev.data.u64;
    return true;
  }
  pollfd pfd{fd, POLLIN, 0};
  return ppoll(&pfd, 1, &ts, nullptr) > 0;
}

Waiter::Waiter(WaitMode mode, const WaitConfig& config, const Clock& clock,
               EngineCounters* counters)
    : policy_(mode, config), clock_(clock), counters_(counters) {}

size_t Waiter::wait(Pollable& p, Nanos deadline, const std::atomic<bool>* running) {
  CoreSeats& seats = CoreSeats::instance();
  for (;;) {
    const size_t n = p.poll();
    const Nanos now = clock_.now();
    const WaitCounters before = policy_.counters();
    policy_.on_poll(now, n, n > 0 ? PollNotes{p.answer_due(), p.answered()} : PollNotes{});
    const bool seated = seats.claim();
    if (seats.hand_off() && counters_ != nullptr)
      counters_->yields.fetch_add(1, std::memory_order_relaxed);
    if (n > 0) {
      publish(before);
      return n;
    }
    if (running != nullptr && !running->load(std::memory_order_relaxed)) return 0;
    if (deadline >= 0 && now >= deadline) return 0;
    const WaitStep step = policy_.next(now, /*may_spin=*/seated);
    // Shown before the sleep, so readers see a sleeping waiter as such.
    publish(before);
    if (step.kind == WaitStep::Kind::Poll) {
      // An empty poll gives the core to any other runnable thread at once:
      // another application's thread woken on this core would otherwise
      // wait for the rest of the spinner's time slice.
      sched_yield();
      cpu_relax();
      continue;
    }
    const Nanos left = deadline < 0 ? step.duration : std::min(step.duration, deadline - now);
    const WaitCounters asleep = policy_.counters();
    seats.leave();
    if (step.kind == WaitStep::Kind::Timer) {
      sleep_timer(p, left);
    } else {
      sleep_event(p, left);
    }
    publish(asleep);
  }
}

void Waiter::sleep_timer(Pollable& p, Nanos duration) {
  const int urgent = p.urgent_fd();
  if (urgent >= 0 && !p.try_arm_urgent()) {
    policy_.on_wake(clock_.now());
    return;
  }
  tighten_timer_slack();
  p.before_sleep();
  uint64_t tag = 0;
  bool woken = false;
  if (urgent >= 0) {
    woken = wait_readable(urgent, /*is_epoll=*/true, duration, &tag);
  } else {
    const timespec ts = to_timespec(duration);
    clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, nullptr);
  }
  p.after_sleep();
  if (woken) p.urgent_woken(tag);
  policy_.on_wake(clock_.now());
}

void Waiter::sleep_event(Pollable& p, Nanos duration) {
  // Work that arrived while the wake-ups were armed: no sleep.
  if (!p.try_enter_interrupt_mode()) {
    policy_.on_wake(clock_.now());
    return;
  }
  tighten_timer_slack();
  p.before_sleep();
  CoreSeats& seats = CoreSeats::instance();
  seats.sleeping(p);
  uint64_t tag = 0;
  const bool woken = wait_readable(p.wake_fd(), p.wake_fd_is_epoll(), duration, &tag);
  seats.awake(p);
  p.after_sleep();
  if (woken) p.woken_by(tag);
  p.exit_interrupt_mode();
  policy_.on_wake(clock_.now());
  if (woken && counters_ != nullptr) counters_->wakeups.fetch_add(1, std::memory_order_relaxed);
}

// Shares what the policy did since `before` with the engine's counters.
void Waiter::publish(const WaitCounters& before) {
  if (counters_ == nullptr) return;
  const WaitCounters& c = policy_.counters();
  auto add = [](std::atomic<uint64_t>& to, uint64_t from, uint64_t was) {
    if (from != was) to.fetch_add(from - was, std::memory_order_relaxed);
  };
  add(counters_->sleeps, c.event_sleeps, before.event_sleeps);
  add(counters_->deferrals, c.timer_sleeps, before.timer_sleeps);
  add(counters_->switches_to_poll, c.switches_to_poll, before.switches_to_poll);
  add(counters_->switches_to_interrupt, c.switches_to_interrupt, before.switches_to_interrupt);
  add(counters_->answer_spins, c.answer_spins, before.answer_spins);
  add(counters_->answer_misses, c.answer_misses, before.answer_misses);
  counters_->polling.store(policy_.polling(), std::memory_order_relaxed);
  counters_->regime.store(static_cast<uint8_t>(policy_.regime()), std::memory_order_relaxed);
  counters_->gap_ns.store(policy_.gap(), std::memory_order_relaxed);
}

}  // namespace lrp::sched
