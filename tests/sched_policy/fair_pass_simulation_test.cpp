// The fair picker as the engine uses it: whole passes in the shape of
// Scheduler::fair_pass (one snapshot, each ready application visited at most
// once, a visit's cost charged after it), over fake queues and a fake clock.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <vector>

#include "sched/policy/clock.h"
#include "sched/policy/fair_picker.h"
#include "tests/sched_policy/simulated_engine.h"

namespace lrp::sched {
namespace {

using test::DeterministicRandom;
using test::SimulatedApp;
using test::SimulatedEngine;
using test::Visit;

constexpr size_t kQuota = 32;
constexpr size_t kFlood = 1'000'000'000;  // pending frames that never run out
constexpr size_t kRoomy = 1'000'000;      // a reader that keeps up
constexpr Nanos kPerFrame = 1'000;

// frames x 1 us, varied by up to +-30 % per visit, the same on every run.
test::CostModel varied_cost(DeterministicRandom& random) {
  return [&random](uint32_t, size_t frames) {
    const double variation = 0.7 + 0.6 * random.unit();
    return static_cast<Nanos>(static_cast<double>(frames * kPerFrame) * variation);
  };
}

std::vector<SimulatedApp> register_apps(FairPicker& picker, const FakeClock& clock,
                                        const std::vector<SimulatedApp>& apps) {
  for (const SimulatedApp& a : apps) picker.add(a.id, a.weight, clock.now());
  return apps;
}

SimulatedApp& app(std::vector<SimulatedApp>& apps, uint32_t id) {
  return *std::find_if(apps.begin(), apps.end(), [&](const SimulatedApp& a) { return a.id == id; });
}

void keep_flooded(std::vector<SimulatedApp>& apps, std::initializer_list<uint32_t> ids) {
  for (uint32_t id : ids) app(apps, id).pending = kFlood;
}

// ---- quota per visit ----

TEST(FramesForVisit, TakesTheLeastOfPendingRoomAndQuota) {
  EXPECT_EQ(frames_for_visit(1000, 500, 32), 32u);  // quota binds
  EXPECT_EQ(frames_for_visit(5, 500, 32), 5u);      // pending binds
  EXPECT_EQ(frames_for_visit(1000, 7, 32), 7u);     // room binds
  EXPECT_EQ(frames_for_visit(7, 5, 32), 5u);        // room below pending, both below quota
  EXPECT_EQ(frames_for_visit(32, 32, 32), 32u);     // all equal
  EXPECT_EQ(frames_for_visit(0, 500, 32), 0u);      // nothing waiting
  EXPECT_EQ(frames_for_visit(1000, 0, 32), 0u);     // nowhere to put it
  EXPECT_EQ(frames_for_visit(1000, 500, 0), 0u);    // a zero quota allows nothing
}

TEST(FairPass, EveryVisitTakesAtMostTheQuota) {
  FakeClock clock;
  FairPicker picker;
  DeterministicRandom random(1);
  auto apps =
      register_apps(picker, clock, {{.id = 0}, {.id = 1, .weight = 2}, {.id = 2}, {.id = 3}});
  SimulatedEngine engine(picker, clock, kQuota, varied_cost(random));
  size_t visits = 0;
  size_t quota_bound = 0;
  for (int pass = 0; pass < 10'000; ++pass) {
    for (SimulatedApp& a : apps) {
      a.pending = static_cast<size_t>(random.between(0, 100));
      a.room = static_cast<size_t>(random.between(0, 100));
    }
    for (const Visit& v : engine.run_pass(apps)) {
      ASSERT_GT(v.frames, 0u) << "visited an application that was not ready";
      ASSERT_LE(v.frames, kQuota);
      ASSERT_EQ(v.frames, std::min({v.pending_seen, v.room_seen, kQuota}));
      ++visits;
      if (v.frames == kQuota) ++quota_bound;
    }
  }
  // The random sizes must have made each limit bind often enough to matter.
  EXPECT_GT(visits, 20'000u);
  EXPECT_GT(quota_bound, visits / 4);
  EXPECT_LT(quota_bound, visits);
}

// ---- full applications and nobody ready ----

TEST(FairPass, FullApplicationIsNeverPickedWhileOthersAreReady) {
  FakeClock clock;
  FairPicker picker;
  DeterministicRandom random(2);
  auto apps = register_apps(picker, clock, {{.id = 0}, {.id = 1}, {.id = 2}});
  // The full one is furthest behind, so only its lack of room can keep it out.
  picker.charge(1, 1'000'000);
  picker.charge(2, 1'000'000);
  SimulatedEngine engine(picker, clock, kQuota, varied_cost(random));
  for (int pass = 0; pass < 1'000; ++pass) {
    keep_flooded(apps, {0, 1, 2});
    app(apps, 0).room = 0;
    app(apps, 1).room = kRoomy;
    app(apps, 2).room = kRoomy;
    const std::vector<Visit> visits = engine.run_pass(apps);
    // A pass offers one visit per unit of weight (3 here); all go to the two
    // with room.
    ASSERT_EQ(visits.size(), 3u) << "pass " << pass;
    for (const Visit& v : visits) ASSERT_NE(v.id, 0u) << "pass " << pass;
  }
  EXPECT_EQ(app(apps, 0).visits, 0u);
  EXPECT_EQ(app(apps, 1).visits + app(apps, 2).visits, 3'000u);
  EXPECT_NEAR(static_cast<double>(app(apps, 1).visits), 1'500.0, 100.0);
}

TEST(FairPass, NobodyReadyPicksNothing) {
  FakeClock clock;
  FairPicker picker;
  DeterministicRandom random(3);
  EXPECT_EQ(picker.pick({}), std::nullopt) << "no applications at all";
  auto apps = register_apps(picker, clock, {{.id = 0}, {.id = 1}, {.id = 2}});
  SimulatedEngine engine(picker, clock, kQuota, varied_cost(random));
  // Idle, full, and both: none of them is ready.
  app(apps, 0) = {.id = 0, .pending = 0, .room = kRoomy};
  app(apps, 1) = {.id = 1, .pending = kFlood, .room = 0};
  app(apps, 2) = {.id = 2, .pending = 0, .room = 0};
  EXPECT_TRUE(engine.run_pass(apps).empty());
  const std::array<Readiness, 3> view{{{0, 0, kRoomy}, {1, kFlood, 0}, {2, 0, 0}}};
  EXPECT_EQ(picker.pick(view), std::nullopt);
  EXPECT_EQ(clock.now(), 0) << "no visit, no CPU";
}

// ---- weighted share ----

TEST(FairPass, WeightsOneToThreeGetChargedCpuOneToThreeUnderSustainedOverload) {
  FakeClock clock;
  FairPicker picker;
  DeterministicRandom random(4);
  auto apps = register_apps(picker, clock, {{.id = 0, .weight = 1}, {.id = 1, .weight = 3}});
  SimulatedEngine engine(picker, clock, kQuota, varied_cost(random));
  for (int pass = 0; pass < 10'000; ++pass) {
    for (SimulatedApp& a : apps) {
      a.pending = kFlood;
      a.room = kRoomy;
    }
    engine.run_pass(apps);
  }
  const double light = static_cast<double>(app(apps, 0).charged);
  const double heavy = static_cast<double>(app(apps, 1).charged);
  ASSERT_GT(light, 0);
  EXPECT_NEAR(heavy / light, 3.0, 3.0 * 0.05)
      << "charged " << light << " ns to weight 1 and " << heavy << " ns to weight 3 in "
      << app(apps, 0).visits << " and " << app(apps, 1).visits << " visits";
}

// ---- latency of a light application behind flooded ones ----

// The light application gets one frame at random times; each time, counts the
// visits to others between the first pass that sees it ready and its visit.
void expect_light_waits_at_most_one_round(const std::vector<uint32_t>& flooded_weights) {
  FakeClock clock;
  FairPicker picker;
  DeterministicRandom random(5);
  std::vector<SimulatedApp> apps;
  std::vector<uint32_t> flooded;
  for (uint32_t i = 0; i < flooded_weights.size(); ++i) {
    apps.push_back({.id = i, .weight = flooded_weights[i], .pending = kFlood, .room = kRoomy});
    flooded.push_back(i);
  }
  const uint32_t light = static_cast<uint32_t>(apps.size());
  apps.push_back({.id = light, .weight = 1, .pending = 0, .room = kRoomy});
  for (const SimulatedApp& a : apps) picker.add(a.id, a.weight, clock.now());
  SimulatedEngine engine(picker, clock, kQuota, varied_cost(random));

  const size_t others_ready = flooded.size();
  Nanos next_arrival = clock.now();
  std::optional<size_t> waiting;  // visits to others since the light one became ready
  size_t served = 0;
  size_t longest_wait = 0;
  for (int pass = 0; pass < 20'000; ++pass) {
    for (uint32_t id : flooded) app(apps, id).pending = kFlood;
    SimulatedApp& l = app(apps, light);
    if (l.pending == 0 && clock.now() >= next_arrival) {
      l.pending = 1;
      waiting = 0;
      // Up to about ten passes of flooded work before the next frame.
      next_arrival =
          clock.now() +
          random.between(0, 10 * static_cast<int64_t>(others_ready * kQuota) * kPerFrame);
    }
    for (const Visit& v : engine.run_pass(apps)) {
      if (!waiting) continue;
      if (v.id == light) {
        longest_wait = std::max(longest_wait, *waiting);
        waiting.reset();
        ++served;
        continue;
      }
      ++*waiting;
      ASSERT_LE(*waiting, others_ready) << "pass " << pass;
    }
  }
  EXPECT_GT(served, 2'000u);
  EXPECT_GE(longest_wait, 1u) << "it never waited: the bound was not exercised";
}

TEST(FairPass, LightApplicationWaitsAtMostOneQuotaBehindAFloodedOne) {
  expect_light_waits_at_most_one_round({1});
}

TEST(FairPass, LightApplicationWaitsAtMostOneRoundOfQuotasBehindSeveralFloodedOnes) {
  expect_light_waits_at_most_one_round({1, 3, 1, 8});
}

// ---- no banked credit ----

// Longest run of consecutive visits to `id`, and its share of the visits,
// over `passes` passes with everyone flooded.
struct Alternation {
  size_t longest_run = 0;
  size_t visits_to_id = 0;
  size_t visits = 0;
};
Alternation run_flooded(SimulatedEngine& engine, std::vector<SimulatedApp>& apps, uint32_t id,
                        int passes) {
  Alternation result;
  size_t run = 0;
  for (int pass = 0; pass < passes; ++pass) {
    for (SimulatedApp& a : apps) a.pending = kFlood;
    for (const Visit& v : engine.run_pass(apps)) {
      ++result.visits;
      run = v.id == id ? run + 1 : 0;
      if (v.id == id) ++result.visits_to_id;
      result.longest_run = std::max(result.longest_run, run);
    }
  }
  return result;
}

TEST(FairPass, ApplicationIdleForALongTimeCannotBankCredit) {
  FakeClock clock;
  FairPicker picker;
  DeterministicRandom random(6);
  auto apps = register_apps(
      picker, clock,
      {{.id = 0, .pending = kFlood, .room = kRoomy}, {.id = 1, .pending = 0, .room = kRoomy}});
  SimulatedEngine engine(picker, clock, kQuota, varied_cost(random));
  // 0 runs alone for a long time while 1 has nothing to do.
  for (int pass = 0; pass < 1'000; ++pass) {
    keep_flooded(apps, {0});
    engine.run_pass(apps);
  }
  ASSERT_EQ(app(apps, 1).visits, 0u);
  const double idle_vt = picker.virtual_time(1);
  const double busy_vt = picker.virtual_time(0);
  ASSERT_GT(busy_vt - idle_vt, 1'000 * 0.7 * kQuota * kPerFrame / 2);
  // Once 1 is ready they share equally, from the first pass on.
  const Alternation a = run_flooded(engine, apps, 1, 200);
  EXPECT_LE(a.longest_run, 2u) << "1 was served (almost) exclusively";
  // Shares are of CPU time and visit costs vary: equal within a few visits.
  EXPECT_NEAR(static_cast<double>(a.visits_to_id), a.visits / 2.0, 0.05 * a.visits);
  // Its virtual time caught up with 0's instead of keeping the gap.
  EXPECT_LT(std::abs(picker.virtual_time(1) - picker.virtual_time(0)), busy_vt - idle_vt);
}

TEST(FairPass, NewlyRegisteredApplicationCannotBankCredit) {
  FakeClock clock;
  FairPicker picker;
  DeterministicRandom random(7);
  auto apps = register_apps(picker, clock, {{.id = 0, .pending = kFlood, .room = kRoomy}});
  SimulatedEngine engine(picker, clock, kQuota, varied_cost(random));
  for (int pass = 0; pass < 1'000; ++pass) {
    keep_flooded(apps, {0});
    engine.run_pass(apps);
  }
  apps.push_back({.id = 1, .pending = kFlood, .room = kRoomy});
  picker.add(1, 1, clock.now());
  // It joins level with 0, give or take one visit, not at virtual time 0.
  EXPECT_GE(picker.virtual_time(1), picker.virtual_time(0) - 1.3 * kQuota * kPerFrame);
  const Alternation a = run_flooded(engine, apps, 1, 200);
  EXPECT_LE(a.longest_run, 2u) << "1 was served (almost) exclusively";
  // Shares are of CPU time and visit costs vary: equal within a few visits.
  EXPECT_NEAR(static_cast<double>(a.visits_to_id), a.visits / 2.0, 0.05 * a.visits);
}

}  // namespace
}  // namespace lrp::sched
