#include "sched/policy/cpu_attribution.h"

#include <algorithm>

namespace lrp::sched {

void ContiguousAttribution::open(Nanos wall, Nanos cpu) {
  std::fill(pending_.begin(), pending_.end(), 0);
  pending_idle_ = 0;
  mark_ = wall;
  window_wall_ = wall;
  window_cpu_ = cpu;
}

void ContiguousAttribution::idle_until(Nanos wall) {
  pending_idle_ += std::max<Nanos>(0, wall - mark_);
  mark_ = std::max(mark_, wall);
}

void ContiguousAttribution::forget(size_t app) {
  pending_idle_ += pending_[app];
  pending_[app] = 0;
}

void ContiguousAttribution::close(Nanos wall, Nanos cpu) {
  idle_until(wall);
  const Nanos used = std::max<Nanos>(0, cpu - window_cpu_);
  Nanos total_wall = pending_idle_;
  for (Nanos p : pending_) total_wall += p;
  Nanos given = 0;
  for (size_t i = 0; i < pending_.size(); ++i) {
    // 128-bit product: a long window times a large CPU delta overflows 64 bits.
    closed_[i] = total_wall > 0
                     ? static_cast<Nanos>(static_cast<__int128>(used) * pending_[i] / total_wall)
                     : 0;
    given += closed_[i];
  }
  // Rounding remainders and wall time nobody claimed are the engine's own.
  closed_idle_ = used - given;
  open(wall, cpu);
}

Nanos ContiguousAttribution::reopen_after_sleep(Nanos wall, Nanos cpu) {
  const Nanos slept = std::max<Nanos>(0, cpu - window_cpu_);
  open(wall, cpu);
  return slept;
}

void CappedAttribution::open(Nanos wall, Nanos cpu) {
  pending_ = 0;
  window_wall_ = wall;
  window_cpu_ = cpu;
}

Nanos CappedAttribution::close(Nanos wall, Nanos cpu) {
  const Nanos charge = std::min(pending_, std::max<Nanos>(0, cpu - window_cpu_));
  open(wall, cpu);
  return charge;
}

}  // namespace lrp::sched
