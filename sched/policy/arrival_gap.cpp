#include "sched/policy/arrival_gap.h"

#include <algorithm>
#include <cmath>

namespace lrp::sched {

// The prior counts as one arrival, so the first few real ones outweigh it.
ArrivalGap::ArrivalGap(Nanos initial, Nanos cap, double memory_items)
    : time_(static_cast<double>(std::min(initial, cap))),
      items_(1),
      cap_(cap),
      keep_per_item_(1.0 - 1.0 / memory_items) {}

void ArrivalGap::observe(Nanos elapsed, size_t items) {
  if (items == 0) return;
  const double n = static_cast<double>(items);
  // The cap applies to the time per arrival, so a large batch after a long
  // interval still says "this many per that long".
  const double t =
      std::min(static_cast<double>(std::max<Nanos>(elapsed, 0)), n * static_cast<double>(cap_));
  const double keep = std::pow(keep_per_item_, n);
  time_ = time_ * keep + t;
  items_ = items_ * keep + n;
  observed_ = observed_ + items < observed_ ? observed_ : observed_ + items;
}

Nanos ArrivalGap::gap() const {
  return static_cast<Nanos>(time_ / items_);
}

}  // namespace lrp::sched
