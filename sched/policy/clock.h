// Time for policy decisions, behind an interface so tests drive it by hand.
#pragma once

#include <cstdint>

namespace lrp::sched {

// Nanoseconds on a monotonic time line; also used for CPU time charged.
using Nanos = int64_t;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual Nanos now() const = 0;
};

// CLOCK_MONOTONIC: never jumps with wall-clock changes.
class MonotonicClock final : public Clock {
 public:
  Nanos now() const override;
};

// Moves only when told to, so tests of time-based rules are deterministic.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(Nanos start = 0) : now_(start) {}
  Nanos now() const override { return now_; }
  void advance(Nanos by) { now_ += by; }
  void set(Nanos to) { now_ = to; }

 private:
  Nanos now_;
};

}  // namespace lrp::sched
