// Charging CPU time without a system call per visit. The thread CPU clock is
// a system call (about 200 ns on a KVM guest), the monotonic clock a vDSO
// read (about 20 ns). Visits are timed on the monotonic clock; the thread's
// CPU clock is read about once per window and converts the window's wall
// time into CPU time. Pure arithmetic over the readings it is given, so it
// is tested deterministically.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "sched/policy/clock.h"

namespace lrp::sched {

inline constexpr Nanos kCpuWindowNs = 1'000'000;

// A thread whose time all belongs to someone (the dedicated engine thread):
// every stretch of wall time since the window opened is pending for an
// application, for idle polling or was the window's own overhead; closing
// the window splits the CPU the thread used in proportion, so the charges,
// idle and sleep always add up to exactly the thread's CPU time.
class ContiguousAttribution {
 public:
  explicit ContiguousAttribution(size_t apps) : pending_(apps, 0), closed_(apps, 0) {}

  void open(Nanos wall, Nanos cpu);
  // The end of the last attributed stretch.
  Nanos mark() const { return mark_; }
  // [mark, wall) was idle polling.
  void idle_until(Nanos wall);
  // `wall_ns` of the stretch ending at the new mark was this application's.
  void spent(size_t app, Nanos wall_ns) { pending_[app] += wall_ns; }
  void set_mark(Nanos wall) { mark_ = wall; }
  // An application left: whatever it had pending becomes idle time.
  void forget(size_t app);
  bool due(Nanos wall) const { return wall - window_wall_ >= kCpuWindowNs; }

  // Converts the window (up to `wall`, thread CPU `cpu`) into CPU time and
  // opens the next one. After close, charged(app) and idle() hold the split.
  void close(Nanos wall, Nanos cpu);
  Nanos charged(size_t app) const { return closed_[app]; }
  Nanos idle() const { return closed_idle_; }
  // The thread slept since the last close: the CPU it used doing so.
  Nanos reopen_after_sleep(Nanos wall, Nanos cpu);

 private:
  std::vector<Nanos> pending_;
  std::vector<Nanos> closed_;
  Nanos pending_idle_ = 0;
  Nanos closed_idle_ = 0;
  Nanos mark_ = 0;
  Nanos window_wall_ = 0;
  Nanos window_cpu_ = 0;
};

// A thread that also does other things (the application thread in
// run-to-completion): its visits are timed on the monotonic clock, and a
// window's charge is capped by the CPU the thread actually had in it, so a
// visit that was preempted is not charged for the time it sat off the CPU.
class CappedAttribution {
 public:
  void open(Nanos wall, Nanos cpu);
  void spent(Nanos wall_ns) { pending_ += wall_ns; }
  bool due(Nanos wall) const { return wall - window_wall_ >= kCpuWindowNs; }
  Nanos pending() const { return pending_; }
  // The CPU time to charge for the window ending at (wall, cpu); opens the next.
  Nanos close(Nanos wall, Nanos cpu);

 private:
  Nanos pending_ = 0;
  Nanos window_wall_ = 0;
  Nanos window_cpu_ = 0;
};

}  // namespace lrp::sched
