// When the engine sleeps on interrupts and when it polls (Mogul and
// Ramakrishnan; Linux NAPI). A wake-up only starts polling; polling stops
// when the queues stayed empty long enough.
#pragma once

#include <cstddef>
#include <cstdint>

#include "sched/policy/clock.h"

namespace lrp::sched {

enum class EngineMode {
  Interrupt,  // sleep as soon as a pass finds nothing
  Poll,       // never sleep
  Adaptive,   // sleep only after idle_passes empty passes and idle_time without work
};

struct AdaptiveConfig {
  uint32_t idle_passes = 64;     // consecutive empty passes before sleeping
  Nanos idle_time = 200'000;     // and at least this long without work (200 us)
};

class ModeController {
 public:
  ModeController(EngineMode mode, const AdaptiveConfig& config);

  // After every pass, with the number of frames it handled.
  void on_pass(Nanos now, size_t frames_done);
  // After a sleep ended because something became ready.
  void on_wakeup(Nanos now);
  bool should_sleep() const { return !polling_; }
  bool polling() const { return polling_; }
  EngineMode mode() const { return mode_; }

  uint64_t switches_to_poll() const { return to_poll_; }
  uint64_t switches_to_interrupt() const { return to_interrupt_; }

 private:
  void set_polling(bool polling);

  EngineMode mode_;
  AdaptiveConfig config_;
  bool polling_;
  uint32_t empty_passes_ = 0;
  Nanos last_work_ = 0;
  uint64_t to_poll_ = 0;
  uint64_t to_interrupt_ = 0;
};

}  // namespace lrp::sched
