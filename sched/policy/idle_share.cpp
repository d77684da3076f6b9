#include "sched/policy/idle_share.h"

#include <algorithm>

namespace lrp::sched {

void IdleShare::add(Nanos duration, bool idle) {
  const double d = static_cast<double>(std::max<Nanos>(duration, 0));
  // memory / (memory + d): close to exp(-d / memory) for short stretches,
  // and never negative for long ones.
  const double keep = memory_ / (memory_ + d);
  idle_ = idle_ * keep + (idle ? d : 0);
  total_ = total_ * keep + d;
}

double IdleShare::share(Nanos ongoing, bool ongoing_idle) const {
  const double d = static_cast<double>(std::max<Nanos>(ongoing, 0));
  const double keep = memory_ / (memory_ + d);
  const double total = total_ * keep + d;
  return total <= 0 ? 1.0 : (idle_ * keep + (ongoing_idle ? d : 0)) / total;
}

}  // namespace lrp::sched
