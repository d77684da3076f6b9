#include "sched/policy/shed_controller.h"

namespace lrp::sched {

bool ShedController::drained(size_t occupancy, size_t bound) const {
  return static_cast<double>(occupancy) <= config_.lower_below * static_cast<double>(bound);
}

ShedDecision ShedController::update(Nanos now, size_t occupancy, size_t bound) {
  const bool full = bound > 0 && occupancy >= bound;
  if (full && !full_) full_since_ = now;
  full_ = full;
  if (!shed_ && full && now - full_since_ >= config_.raise_after) {
    shed_ = true;
    ++raises_;
    return {.shed = true, .changed = true};
  }
  if (shed_ && (bound == 0 || drained(occupancy, bound))) {
    shed_ = false;
    ++lowers_;
    return {.shed = false, .changed = true};
  }
  return {.shed = shed_, .changed = false};
}

}  // namespace lrp::sched
