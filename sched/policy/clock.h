// Time for policy decisions, behind an interface so tests can drive it.
#pragma once

#include <cstdint>

namespace lrp::sched {

using Nanos = int64_t;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual Nanos now() const = 0;
};

class MonotonicClock final : public Clock {
 public:
  Nanos now() const override;
};

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
