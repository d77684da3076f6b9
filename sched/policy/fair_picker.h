// Which application's protocol work runs next: the ready one with the least
// weighted virtual time. Charging a visit's CPU time advances the
// application's virtual time by time / weight, so under overload each gets
// CPU in proportion to its weight.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "sched/policy/clock.h"

namespace lrp::sched {

// What the picker sees of one application.
struct Readiness {
  uint32_t id = 0;
  size_t pending = 0;  // frames waiting in its sockets' rings
  size_t room = 0;     // datagrams its receive queue can still take
};

// Frames one visit may take: no more than waiting, than fit, than the quota.
inline size_t frames_for_visit(size_t pending, size_t room, size_t quota) {
  size_t n = pending < room ? pending : room;
  return n < quota ? n : quota;
}

class FairPicker {
 public:
  void add(uint32_t id, uint32_t weight, Nanos now);
  void remove(uint32_t id);
  // The ready application (pending > 0 and room > 0) to serve next.
  std::optional<uint32_t> pick(std::span<const Readiness> view);
  void charge(uint32_t id, Nanos cpu);
  // Virtual time in weighted nanoseconds (tests and metrics).
  double virtual_time(uint32_t id) const;

 private:
  struct Entry {
    bool present = false;
    uint32_t weight = 1;
    double vt = 0;
    bool was_ready = false;
  };
  Entry* entry(uint32_t id);
  double min_ready_vt(std::span<const Readiness> view) const;

  std::vector<Entry> entries_;
  uint32_t last_picked_ = 0;
};

}  // namespace lrp::sched
