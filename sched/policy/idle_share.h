// The share of recent time a waiter spent waiting (spinning or asleep)
// rather than working, with an exponentially fading memory of about
// `memory` nanoseconds. Near zero means the core is saturated: every look
// finds work.
#pragma once

#include "sched/policy/clock.h"

namespace lrp::sched {

class IdleShare {
 public:
  explicit IdleShare(Nanos memory) : memory_(static_cast<double>(memory)) {}

  void add(Nanos duration, bool idle);
  // The share, counting a stretch still under way.
  double share(Nanos ongoing = 0, bool ongoing_idle = true) const;

 private:
  double memory_;
  double idle_ = 1;  // before anything happened: idle
  double total_ = 1;
};

}  // namespace lrp::sched
