// When the engine sleeps on interrupts and when it polls (Mogul and
// Ramakrishnan; Linux NAPI). A wake-up only starts polling; it does no work by
// itself. Polling stops when the queues stayed empty long enough.
#pragma once

#include <cstddef>
#include <cstdint>

#include "sched/policy/clock.h"

namespace lrp::sched {

enum class EngineMode {
  Interrupt,  // NAPI-style: poll while there is work, sleep after the first empty pass
  Poll,       // never sleep
  Adaptive,   // sleep only after idle_passes empty passes and idle_time without work
};

// What the engine does next: wait for a wake-up, or run another pass.
enum class EngineState { Sleeping, Polling };

// Hysteresis for Adaptive: both conditions must hold before sleeping again.
// Counting passes alone fails when passes are cheap (64 empty passes can take
// a few microseconds); time alone fails when one pass is slow. 200 us of
// spinning after the last work bounds sleep/wake cycles to 5000 per second
// under steady load, so their cost (an epoll wake-up and a context switch,
// several microseconds) stays a few percent, while an idle engine stops
// burning CPU within a fraction of a millisecond.
struct AdaptiveConfig {
  uint32_t idle_passes = 64;  // consecutive empty passes before sleeping
  Nanos idle_time = 200'000;  // and at least this long since the last work (200 us)
};

struct ModeCounters {
  uint64_t switches_to_poll = 0;
  uint64_t switches_to_interrupt = 0;
  uint64_t poll_passes = 0;   // passes over the queues (every on_pass)
  uint64_t empty_passes = 0;  // passes that handled no frame
  uint64_t wakeups = 0;       // sleeps ended because something became ready
};

class ModeController {
 public:
  explicit ModeController(EngineMode mode, const AdaptiveConfig& config = {});

  // After every pass, with the number of frames it handled.
  void on_pass(Nanos now, size_t frames_done);
  // After a sleep ended because something became ready.
  void on_wakeup(Nanos now);

  // Whether the next on_pass() without work looks at `now`. When false the
  // caller may pass 0 instead of reading the clock, so an empty pass costs no
  // clock read; a pass with work always needs the real time.
  bool needs_time() const;

  bool should_sleep() const { return state_ == EngineState::Sleeping; }
  bool polling() const { return state_ == EngineState::Polling; }
  EngineState state() const { return state_; }
  EngineMode mode() const { return mode_; }
  const AdaptiveConfig& config() const { return config_; }

  const ModeCounters& counters() const { return counters_; }
  uint64_t switches_to_poll() const { return counters_.switches_to_poll; }
  uint64_t switches_to_interrupt() const { return counters_.switches_to_interrupt; }

 private:
  void enter(EngineState state);
  bool idle_long_enough(Nanos now) const;

  EngineMode mode_;
  AdaptiveConfig config_;
  EngineState state_;
  uint32_t empty_in_a_row_ = 0;
  Nanos last_work_ = 0;
  ModeCounters counters_;
};

}  // namespace lrp::sched
