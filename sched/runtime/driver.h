// How a scheduler's work gets done and waited for: which threads poll, and
// how an application receives. Two kinds: run to completion (rtc_driver.h)
// and a dedicated engine thread (dedicated_driver.h).
#pragma once

#include <span>

#include "lrp/result.h"
#include "sched/runtime/scheduler.h"

namespace lrp::sched {

class SchedulerDriver {
 public:
  virtual ~SchedulerDriver() = default;
  virtual Status start() = 0;
  virtual void stop() = 0;
  // See Scheduler::receive. `a` stays while the call runs.
  virtual size_t receive(Scheduler::App& a, std::span<Datagram> out, int timeout_ms) = 0;
  virtual int ready_fd(const Scheduler::App& a) const = 0;
};

// The deadline of a receive: 0 ms looks once, < 0 waits without one.
inline Nanos receive_deadline(const Clock& clock, int timeout_ms) {
  if (timeout_ms < 0) return -1;
  return clock.now() + Nanos{timeout_ms} * 1'000'000;
}

}  // namespace lrp::sched
