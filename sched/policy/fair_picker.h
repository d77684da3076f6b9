// Which application's protocol work runs next: the ready one with the least
// weighted virtual time (WFQ, CFS). Charging a visit's CPU time advances the
// application's virtual time by time / weight, so under overload each gets
// CPU in proportion to its weight, and a flooded application cannot take
// more than its share.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "sched/policy/clock.h"

namespace lrp::sched {

// What the picker sees of one application at the moment of a pick.
struct Readiness {
  uint32_t id = 0;
  size_t pending = 0;  // frames waiting in its sockets' rings
  size_t room = 0;     // datagrams its receive queue can still take
};

// The caller's snapshot of all applications; a span so tests fake it with an array.
using ReadinessView = std::span<const Readiness>;

// Ready means there is work and somewhere to put its result: protocol work
// for an application that cannot take it would be wasted (LRP).
constexpr bool is_ready(const Readiness& r) {
  return r.pending > 0 && r.room > 0;
}

// Frames one visit may take: no more than waiting, than fit, than the quota.
constexpr size_t frames_for_visit(size_t pending, size_t room, size_t quota) {
  const size_t fit = pending < room ? pending : room;
  return fit < quota ? fit : quota;
}

struct FairConfig {
  // Bounds one visit, so the next application waits at most one quota's work.
  size_t quota_frames = 64;
};

class FairPicker {
 public:
  explicit FairPicker(const FairConfig& config = {}) : config_(config) {}

  // Registers an application. It starts at the least virtual time of the
  // running ones, so it neither waits for them nor jumps ahead of them.
  // False (and no change) when the weight is 0 or the id is taken.
  bool add(uint32_t id, uint32_t weight);
  // The same; virtual time counts CPU, not wall time, so `now` is not used.
  // Kept for callers written against the earlier signature.
  bool add(uint32_t id, uint32_t weight, Nanos /*now*/) { return add(id, weight); }
  bool remove(uint32_t id);
  // Future charges advance the virtual time by cpu / weight; false when the
  // weight is 0 or the id unknown.
  bool set_weight(uint32_t id, uint32_t weight);
  bool contains(uint32_t id) const { return find(id) != nullptr; }
  size_t size() const { return entries_.size(); }

  // The ready application (pending > 0 and room > 0) to serve next: least
  // virtual time; ties go round-robin in id order after the last one picked.
  // Ids in the view that were never added are ignored; registered ones
  // missing from the view count as not ready.
  std::optional<uint32_t> pick(ReadinessView view);
  // CPU time the visit cost; advances the application's virtual time by cpu / weight.
  void charge(uint32_t id, Nanos cpu);

  size_t quota_frames() const { return config_.quota_frames; }
  size_t frames_for_visit(const Readiness& r) const {
    return lrp::sched::frames_for_visit(r.pending, r.room, config_.quota_frames);
  }

  // In weighted nanoseconds; 0 for an unknown id (tests and metrics).
  double virtual_time(uint32_t id) const;
  uint32_t weight(uint32_t id) const {
    const Entry* e = find(id);
    return e == nullptr ? 0 : e->weight;
  }
  // Where newly ready applications join: never decreases.
  double floor_virtual_time() const { return floor_vt_; }

 private:
  struct Entry {
    uint32_t id = 0;
    uint32_t weight = 1;
    double vt = 0;
    bool was_ready = false;  // ready at the previous pick
    bool ready = false;      // ready in the view of the current pick
  };
  size_t lower_bound(uint32_t id) const;  // index of id, or where it would go
  Entry* find(uint32_t id);
  const Entry* find(uint32_t id) const;
  void mark_ready(ReadinessView view);
  void join_newly_ready();
  const Entry* least_virtual_time() const;

  FairConfig config_;
  std::vector<Entry> entries_;  // sorted by id
  double floor_vt_ = 0;
  uint32_t last_picked_ = UINT32_MAX;  // so the first round starts at id 0
};

}  // namespace lrp::sched
