// When an application's sockets are shed at XDP: after its receive queue has
// stayed full for a while, until it has drained well below its bound. The gap
// between the two thresholds keeps the flag from flapping.
#pragma once

#include <cstddef>
#include <cstdint>

#include "sched/policy/clock.h"

namespace lrp::sched {

struct ShedConfig {
  Nanos raise_after = 10'000'000;  // queue full continuously for 10 ms
  double lower_below = 0.5;        // lower when occupancy <= half the bound
};

struct ShedDecision {
  bool shed = false;
  bool changed = false;
};

class ShedController {
 public:
  explicit ShedController(const ShedConfig& config) : config_(config) {}
  ShedDecision update(Nanos now, size_t occupancy, size_t bound);
  bool shed() const { return shed_; }

 private:
  ShedConfig config_;
  bool shed_ = false;
  bool full_ = false;
  Nanos full_since_ = 0;
};

}  // namespace lrp::sched
