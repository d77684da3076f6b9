#include "sched/policy/mode_controller.h"

namespace lrp::sched {

ModeController::ModeController(EngineMode mode, const AdaptiveConfig& config)
    : mode_(mode),
      config_(config),
      state_(mode == EngineMode::Poll ? EngineState::Polling : EngineState::Sleeping) {}

void ModeController::enter(EngineState state) {
  if (state == state_) return;
  state_ = state;
  ++(state == EngineState::Polling ? counters_.switches_to_poll : counters_.switches_to_interrupt);
}

bool ModeController::idle_long_enough(Nanos now) const {
  return empty_in_a_row_ >= config_.idle_passes && now - last_work_ >= config_.idle_time;
}

bool ModeController::needs_time() const {
  // Only Adaptive while polling consults the time, and only once the pass
  // count is met: before that an empty pass cannot end polling anyway.
  return mode_ == EngineMode::Adaptive && state_ == EngineState::Polling &&
         uint64_t{empty_in_a_row_} + 1 >= config_.idle_passes;
}

void ModeController::on_wakeup(Nanos now) {
  ++counters_.wakeups;
  // The wake-up counts as work for the idle clock: whatever rang is about to
  // be looked at, and the engine should not doze off before it has.
  last_work_ = now;
  empty_in_a_row_ = 0;
  enter(EngineState::Polling);
}

void ModeController::on_pass(Nanos now, size_t frames_done) {
  ++counters_.poll_passes;
  if (frames_done > 0) {
    last_work_ = now;
    empty_in_a_row_ = 0;
    // Work found without a wake-up (the first pass, or a sleep that timed
    // out) also means load: poll until it is gone.
    enter(EngineState::Polling);
    return;
  }
  ++counters_.empty_passes;
  if (empty_in_a_row_ < UINT32_MAX) ++empty_in_a_row_;
  switch (mode_) {
    case EngineMode::Poll:
      return;
    case EngineMode::Interrupt:
      enter(EngineState::Sleeping);
      return;
    case EngineMode::Adaptive:
      if (idle_long_enough(now)) enter(EngineState::Sleeping);
      return;
  }
}

}  // namespace lrp::sched
