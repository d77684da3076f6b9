#include "sched/policy/mode_controller.h"

namespace lrp::sched {

ModeController::ModeController(EngineMode mode, const AdaptiveConfig& config)
    : mode_(mode), config_(config), polling_(mode == EngineMode::Poll) {}

void ModeController::set_polling(bool polling) {
  if (polling == polling_) return;
  polling_ = polling;
  ++(polling ? to_poll_ : to_interrupt_);
}

void ModeController::on_wakeup(Nanos now) {
  if (mode_ == EngineMode::Poll) return;
  last_work_ = now;
  empty_passes_ = 0;
  set_polling(true);
}

void ModeController::on_pass(Nanos now, size_t frames_done) {
  if (frames_done > 0) {
    empty_passes_ = 0;
    last_work_ = now;
    if (mode_ != EngineMode::Poll) set_polling(true);
    return;
  }
  ++empty_passes_;
  switch (mode_) {
    case EngineMode::Poll:
      return;
    case EngineMode::Interrupt:
      set_polling(false);
      return;
    case EngineMode::Adaptive:
      // Both conditions: many cheap empty passes alone could pass in a few
      // microseconds, and a long gap alone could be one slow pass.
      if (empty_passes_ >= config_.idle_passes && now - last_work_ >= config_.idle_time)
        set_polling(false);
      return;
  }
}

}  // namespace lrp::sched
