// When an application's sockets are shed at XDP: after its receive queue has
// stayed full for a while, until it has drained well below its bound. A slow
// reader keeps making room and is served at its own pace; only one that
// stopped reading is shed, which saves the copy for packets that could only
// tail-drop. The gap between the two thresholds keeps the flag from flapping.
#pragma once

#include <cstddef>
#include <cstdint>

#include "sched/policy/clock.h"

namespace lrp::sched {

struct ShedConfig {
  // Every update for this long saw the queue full. Long against one pass and
  // one scheduling quantum of the reader, so a reader that is merely late
  // is not shed.
  Nanos raise_after = 10'000'000;  // 10 ms
  double lower_below = 0.5;        // lower when occupancy <= this fraction of the bound
};

struct ShedDecision {
  bool shed = false;
  bool changed = false;  // this update raised or lowered the flag
};

class ShedController {
 public:
  explicit ShedController(const ShedConfig& config = {}) : config_(config) {}

  // With the queue's occupancy and bound as seen now. A bound of 0 (no
  // queue) never sheds.
  ShedDecision update(Nanos now, size_t occupancy, size_t bound);
  bool shed() const { return shed_; }
  uint64_t raises() const { return raises_; }
  uint64_t lowers() const { return lowers_; }

 private:
  bool drained(size_t occupancy, size_t bound) const;

  ShedConfig config_;
  bool shed_ = false;
  bool full_ = false;     // the previous update saw the queue full
  Nanos full_since_ = 0;  // first update of the current full stretch
  uint64_t raises_ = 0;
  uint64_t lowers_ = 0;
};

}  // namespace lrp::sched
