// The one wait loop: polls a Pollable until it does some work, sleeping in
// between as the wait policy says (spin, a deferral timer, or until an
// arrival), as the one poller of its core (core_seats.h). The dedicated
// engine thread, run-to-completion receivers, applications waiting for an
// engine thread and the runtime's receive over several queues all wait
// through it.
#pragma once

#include <atomic>
#include <cstddef>

#include "sched/policy/clock.h"
#include "sched/policy/wait_policy.h"
#include "sched/runtime/counters.h"
#include "sched/runtime/pollable.h"

namespace lrp::sched {

class Waiter {
 public:
  // counters: where sleeps, wake-ups and switches are counted (may be
  // shared by several waiters; nullptr: nowhere).
  Waiter(WaitMode mode, const WaitConfig& config, const Clock& clock,
         EngineCounters* counters = nullptr);

  // Polls until p does some work (returns how much), `deadline` passes
  // (-1: none) or *running turns false (returns 0 then).
  size_t wait(Pollable& p, Nanos deadline, const std::atomic<bool>* running = nullptr);

  WaitPolicy& policy() { return policy_; }
  const WaitPolicy& policy() const { return policy_; }

 private:
  void sleep_timer(Pollable& p, Nanos duration);
  void sleep_event(Pollable& p, Nanos duration);
  void publish(const WaitCounters& before);

  WaitPolicy policy_;
  const Clock& clock_;
  EngineCounters* counters_;
};

// Sleeps on `fd` until it is readable or `timeout` (ns, >= 0) passes;
// epoll_pwait2 on an epoll set (so the kernel's epoll busy polling applies),
// ppoll otherwise. True when the fd became readable; for an epoll set,
// *tag is then the data of the entry that woke it.
bool wait_readable(int fd, bool is_epoll, Nanos timeout, uint64_t* tag = nullptr);

}  // namespace lrp::sched
