// One weighted fair pass over the applications' readiness: the picker chooses
// each visit by virtual time, a visit takes at most one quota, and a pass
// offers up to one visit per unit of weight, so CPU shares follow weights.
// The runtime and the policy tests run this same code.
#pragma once

#include <algorithm>
#include <span>

#include "sched/policy/fair_picker.h"

namespace lrp::sched {

struct VisitOutcome {
  size_t taken = 0;  // frames the visit consumed
  Nanos cost = 0;    // CPU it used, charged to the application
};

// Caps the visits of one pass so a pass stays short with many heavy weights.
inline constexpr size_t kMaxVisitsPerPass = 128;

// visit(id, budget) -> VisitOutcome. The view is updated as visits consume
// frames and room. Returns the frames taken in the pass.
template <class VisitFn>
size_t run_fair_pass(FairPicker& picker, std::span<Readiness> view, size_t quota, VisitFn&& visit) {
  size_t max_visits = 0;
  for (const Readiness& r : view) max_visits += picker.weight(r.id);
  max_visits = std::min(max_visits, kMaxVisitsPerPass);
  size_t total = 0;
  for (size_t visits = 0; visits < max_visits; ++visits) {
    const auto picked = picker.pick(view);
    if (!picked) break;
    Readiness& r = *std::find_if(view.begin(), view.end(),
                                 [&](const Readiness& x) { return x.id == *picked; });
    const size_t budget = frames_for_visit(r.pending, r.room, quota);
    const VisitOutcome out = visit(r.id, budget);
    picker.charge(r.id, out.cost);
    // Less than the budget means its rings are drained for this pass.
    r.pending = out.taken < budget ? 0 : r.pending - std::min(r.pending, out.taken);
    r.room -= std::min(r.room, out.taken);
    total += out.taken;
  }
  return total;
}

}  // namespace lrp::sched
