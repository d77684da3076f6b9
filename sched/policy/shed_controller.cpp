#include "sched/policy/shed_controller.h"

namespace lrp::sched {

ShedDecision ShedController::update(Nanos now, size_t occupancy, size_t bound) {
  const bool full = occupancy >= bound;
  if (full && !full_) full_since_ = now;
  full_ = full;
  const bool was = shed_;
  if (!shed_ && full && now - full_since_ >= config_.raise_after) shed_ = true;
  if (shed_ && static_cast<double>(occupancy) <= config_.lower_below * static_cast<double>(bound))
    shed_ = false;
  return ShedDecision{shed_, shed_ != was};
}

}  // namespace lrp::sched
