// A deterministic stand-in for the engine around the policy: queues are
// counters, CPU cost is a formula and time is a FakeClock, so the policy's
// decisions can be checked exactly and repeatably.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <utility>
#include <vector>

#include "sched/policy/clock.h"
#include "sched/policy/fair_pass.h"
#include "sched/policy/fair_picker.h"

namespace lrp::sched::test {

// splitmix64: the same sequence on every platform, unlike std distributions.
class DeterministicRandom {
 public:
  explicit DeterministicRandom(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, 1).
  double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  // Uniform in [low, high].
  int64_t between(int64_t low, int64_t high) {
    return low + static_cast<int64_t>(next() % static_cast<uint64_t>(high - low + 1));
  }

 private:
  uint64_t state_;
};

// One application as the engine sees it: frames in its rings and room in its
// receive queue, plus what the test measures.
struct SimulatedApp {
  uint32_t id = 0;
  uint32_t weight = 1;
  size_t pending = 0;
  size_t room = 0;
  Nanos charged = 0;
  uint64_t visits = 0;
  uint64_t frames_delivered = 0;
};

struct Visit {
  uint32_t id = 0;
  size_t pending_seen = 0;  // in the pass's snapshot
  size_t room_seen = 0;
  size_t frames = 0;
  Nanos cost = 0;
};

// CPU cost of a visit that handles a number of frames.
using CostModel = std::function<Nanos(uint32_t id, size_t frames)>;

// Mirrors Scheduler::fair_pass: one readiness snapshot per pass, each ready
// application picked at most once, its pending set to 0 in the snapshot after
// its visit, and the visit's cost charged to the picker.
class SimulatedEngine {
 public:
  SimulatedEngine(FairPicker& picker, FakeClock& clock, size_t quota, CostModel cost)
      : picker_(picker), clock_(clock), quota_(quota), cost_(std::move(cost)) {}

  std::vector<Visit> run_pass(std::vector<SimulatedApp>& apps) {
    std::vector<Readiness> view;
    for (const SimulatedApp& a : apps) view.push_back(Readiness{a.id, a.pending, a.room});
    std::vector<Visit> visits;
    run_fair_pass(picker_, std::span<Readiness>(view), quota_, [&](uint32_t id, size_t frames) {
      SimulatedApp& a = *std::find_if(apps.begin(), apps.end(),
                                      [&](const SimulatedApp& x) { return x.id == id; });
      const Readiness& r =
          *std::find_if(view.begin(), view.end(), [&](const Readiness& x) { return x.id == id; });
      const Nanos cost = cost_(a.id, frames);
      clock_.advance(cost);
      a.pending -= frames;
      a.charged += cost;
      a.frames_delivered += frames;
      ++a.visits;
      visits.push_back(Visit{a.id, r.pending, r.room, frames, cost});
      return VisitOutcome{frames, cost};
    });
    return visits;
  }

 private:
  FairPicker& picker_;
  FakeClock& clock_;
  size_t quota_;
  CostModel cost_;
};

}  // namespace lrp::sched::test
