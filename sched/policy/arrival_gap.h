// The mean time between arrivals, learned from what each look at the queues
// found: `items` arrivals during the `elapsed` time since the previous look
// that found any. A ratio of two decaying sums (time over items) with a
// memory of about `memory_items` arrivals, so a batch of eight counts as
// much as eight single arrivals and the estimate does not depend on how the
// waiter happened to group them.
#pragma once

#include <cstddef>

#include "sched/policy/clock.h"

namespace lrp::sched {

class ArrivalGap {
 public:
  // `initial`: the gap assumed before anything arrived. `cap`: longer
  // intervals count as this long, so one idle second does not take a long
  // stream of arrivals to forget (beyond the cap every gap means "sparse"
  // to the policy anyway).
  ArrivalGap(Nanos initial, Nanos cap, double memory_items = 32);

  void observe(Nanos elapsed, size_t items);
  Nanos gap() const;
  // Arrivals seen so far (saturating), to tell a learned estimate from the prior.
  size_t observed() const { return observed_; }

 private:
  double time_;   // decayed sum of elapsed time
  double items_;  // decayed sum of items
  Nanos cap_;
  double keep_per_item_;
  size_t observed_ = 0;
};

}  // namespace lrp::sched
