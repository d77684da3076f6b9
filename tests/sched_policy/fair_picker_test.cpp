#include "sched/policy/fair_picker.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <map>
#include <vector>

namespace lrp::sched {
namespace {

constexpr size_t kFlood = 1'000'000;  // pending frames that never run out
constexpr size_t kRoomy = 4'096;

// SplitMix64: the same numbers on every platform, unlike std distributions.
class Random {
 public:
  explicit Random(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in [lo, hi].
  int64_t between(int64_t lo, int64_t hi) {
    return lo + static_cast<int64_t>(next() % static_cast<uint64_t>(hi - lo + 1));
  }

 private:
  uint64_t state_;
};

// CPU one visit costs: per frame 800..1200 ns, plus a fixed 2 us per visit.
Nanos visit_cost(Random& random, size_t frames) {
  Nanos cost = 2'000;
  for (size_t i = 0; i < frames; ++i) cost += random.between(800, 1'200);
  return cost;
}

Readiness& entry(std::vector<Readiness>& view, uint32_t id) {
  return *std::find_if(view.begin(), view.end(), [&](const Readiness& r) { return r.id == id; });
}

// Serves one visit the way an engine would: take the frames, charge the cost.
struct Served {
  uint32_t id;
  size_t frames;
  Nanos cost;
};
std::optional<Served> serve_one(FairPicker& picker, std::vector<Readiness>& view, Random& random) {
  const auto id = picker.pick(view);
  if (!id) return std::nullopt;
  Readiness& r = entry(view, *id);
  const size_t frames = picker.frames_for_visit(r);
  const Nanos cost = visit_cost(random, frames);
  picker.charge(*id, cost);
  r.pending -= frames;
  return Served{*id, frames, cost};
}

TEST(FramesForVisit, IsTheLeastOfPendingRoomAndQuota) {
  EXPECT_EQ(frames_for_visit(1000, 500, 64), 64u);
  EXPECT_EQ(frames_for_visit(10, 500, 64), 10u);
  EXPECT_EQ(frames_for_visit(1000, 3, 64), 3u);
  EXPECT_EQ(frames_for_visit(0, 500, 64), 0u);
  EXPECT_EQ(frames_for_visit(1000, 0, 64), 0u);
  EXPECT_EQ(frames_for_visit(64, 64, 64), 64u);
  EXPECT_EQ(FairConfig{}.quota_frames, 64u);
  EXPECT_EQ(FairPicker().quota_frames(), 64u);
}

TEST(FairPicker, QuotaIsRespectedOnEveryVisit) {
  FairPicker picker(FairConfig{.quota_frames = 16});
  std::vector<Readiness> view;
  for (uint32_t id = 0; id < 4; ++id) {
    ASSERT_TRUE(picker.add(id, id + 1));
    view.push_back({id, 0, 0});
  }
  Random random(1);
  size_t full_quota_visits = 0;
  for (int visit = 0; visit < 10'000; ++visit) {
    for (Readiness& r : view) {
      r.pending = static_cast<size_t>(random.between(0, 100));
      r.room = static_cast<size_t>(random.between(0, 100));
    }
    const auto id = picker.pick(view);
    if (!id) continue;
    const Readiness& r = entry(view, *id);
    const size_t frames = picker.frames_for_visit(r);
    ASSERT_LE(frames, 16u);
    ASSERT_EQ(frames, std::min({r.pending, r.room, size_t{16}}));
    ASSERT_GT(frames, 0u) << "picked an application that was not ready";
    if (frames == 16) ++full_quota_visits;
    picker.charge(*id, static_cast<Nanos>(frames) * 1'000);
  }
  EXPECT_GT(full_quota_visits, 5'000u) << "the quota was the binding limit most of the time";
}

TEST(FairPicker, FullApplicationIsSkipped) {
  FairPicker picker;
  ASSERT_TRUE(picker.add(1, 1));
  ASSERT_TRUE(picker.add(2, 1));
  picker.charge(2, 1'000'000);  // 2 is far behind 1 in the order it deserves
  const std::array<Readiness, 2> view{{{1, 500, 0}, {2, 1, 5}}};
  EXPECT_EQ(picker.pick(view), 2u);
  const std::array<Readiness, 1> only_full{{{1, 500, 0}}};
  EXPECT_EQ(picker.pick(only_full), std::nullopt);
}

TEST(FairPicker, NothingReadyPicksNone) {
  FairPicker picker;
  EXPECT_EQ(picker.pick({}), std::nullopt);
  ASSERT_TRUE(picker.add(1, 1));
  const std::array<Readiness, 1> idle{{{1, 0, 100}}};
  EXPECT_EQ(picker.pick(idle), std::nullopt);
  const std::array<Readiness, 1> stranger{{{9, 10, 10}}};  // never added
  EXPECT_EQ(picker.pick(stranger), std::nullopt);
}

TEST(FairPicker, LeastVirtualTimeWinsAndChargeDividesByWeight) {
  FairPicker picker;
  ASSERT_TRUE(picker.add(1, 1));
  ASSERT_TRUE(picker.add(2, 4));
  const std::array<Readiness, 2> view{{{1, 10, 10}, {2, 10, 10}}};
  EXPECT_EQ(picker.pick(view), 1u);
  picker.charge(1, 1'000);
  EXPECT_DOUBLE_EQ(picker.virtual_time(1), 1'000);
  EXPECT_EQ(picker.pick(view), 2u);
  picker.charge(2, 1'000);
  EXPECT_DOUBLE_EQ(picker.virtual_time(2), 250);
  // 2 stays ahead until it has used four times the CPU of 1.
  EXPECT_EQ(picker.pick(view), 2u);
  picker.charge(2, 3'000);
  EXPECT_DOUBLE_EQ(picker.virtual_time(2), 1'000);
}

TEST(FairPicker, TiesGoRoundRobinInIdOrderAfterTheLastPicked) {
  FairPicker picker;
  for (uint32_t id : {12u, 5u, 9u}) ASSERT_TRUE(picker.add(id, 1));
  const std::array<Readiness, 3> view{{{12, 1, 1}, {5, 1, 1}, {9, 1, 1}}};
  std::vector<uint32_t> order;
  for (int i = 0; i < 7; ++i) order.push_back(*picker.pick(view));  // never charged: all tie
  EXPECT_EQ(order, (std::vector<uint32_t>{5, 9, 12, 5, 9, 12, 5}));
  // Without 9 the round skips it.
  ASSERT_TRUE(picker.remove(9));
  EXPECT_EQ(picker.pick(view), 12u);
  EXPECT_EQ(picker.pick(view), 5u);
}

TEST(FairPicker, AddAndRemoveAtRunTime) {
  FairPicker picker;
  EXPECT_FALSE(picker.add(1, 0)) << "weight must be > 0";
  EXPECT_TRUE(picker.add(1, 2));
  EXPECT_FALSE(picker.add(1, 3)) << "id already registered";
  EXPECT_TRUE(picker.contains(1));
  EXPECT_EQ(picker.size(), 1u);
  const std::array<Readiness, 1> view{{{1, 10, 10}}};
  EXPECT_EQ(picker.pick(view), 1u);
  EXPECT_TRUE(picker.remove(1));
  EXPECT_FALSE(picker.remove(1));
  EXPECT_FALSE(picker.contains(1));
  EXPECT_EQ(picker.pick(view), std::nullopt);
  picker.charge(1, 1'000);  // an unknown id is ignored
  EXPECT_EQ(picker.virtual_time(1), 0);
}

TEST(FairPicker, WeightsOneToThreeShareCpuOneToThreeUnderOverload) {
  FairPicker picker;
  ASSERT_TRUE(picker.add(1, 1));
  ASSERT_TRUE(picker.add(2, 3));
  std::vector<Readiness> view{{1, kFlood, kRoomy}, {2, kFlood, kRoomy}};
  Random random(3);
  std::map<uint32_t, Nanos> charged;
  for (int visit = 0; visit < 20'000; ++visit) {
    // Visits vary in size too: the readers leave different room each time.
    for (Readiness& r : view) {
      r.pending = kFlood;
      r.room = static_cast<size_t>(random.between(1, 128));
    }
    const auto served = serve_one(picker, view, random);
    ASSERT_TRUE(served);
    charged[served->id] += served->cost;
  }
  const double ratio = static_cast<double>(charged[2]) / static_cast<double>(charged[1]);
  EXPECT_NEAR(ratio / 3.0, 1.0, 0.05) << "charged " << charged[1] << " : " << charged[2];
}

// A light application's frame waits at most one visit behind each other
// ready application, however long those have been flooded.
void expect_light_waits_at_most_one_round(const std::vector<uint32_t>& flooded_weights) {
  FairPicker picker;
  std::vector<Readiness> view;
  uint32_t id = 0;
  for (uint32_t weight : flooded_weights) {
    ASSERT_TRUE(picker.add(id, weight));
    view.push_back({id++, kFlood, kRoomy});
  }
  const uint32_t light = id;
  ASSERT_TRUE(picker.add(light, 1));
  view.push_back({light, 0, kRoomy});
  const size_t others = flooded_weights.size();
  Random random(7);
  size_t arrivals = 0;
  size_t longest_wait = 0;
  for (int visit = 0; visit < 50'000;) {
    // Flooded ones only, for a while: their virtual time runs ahead.
    for (int64_t quiet = random.between(0, 20); quiet > 0; --quiet, ++visit) {
      const auto served = serve_one(picker, view, random);
      ASSERT_TRUE(served && served->id != light);
      for (Readiness& r : view)
        if (r.id != light) r.pending = kFlood;
    }
    entry(view, light).pending = 1;
    ++arrivals;
    size_t waited_visits = 0;
    size_t waited_frames = 0;
    for (;; ++visit) {
      const auto served = serve_one(picker, view, random);
      ASSERT_TRUE(served);
      for (Readiness& r : view)
        if (r.id != light) r.pending = kFlood;
      if (served->id == light) break;
      ++waited_visits;
      waited_frames += served->frames;
    }
    ASSERT_LE(waited_visits, others) << "arrival " << arrivals;
    ASSERT_LE(waited_frames, others * picker.quota_frames()) << "arrival " << arrivals;
    longest_wait = std::max(longest_wait, waited_visits);
  }
  EXPECT_GT(arrivals, 1'000u);
  EXPECT_GE(longest_wait, 1u) << "never had to wait: the test did not exercise the bound";
}

TEST(FairPicker, LightApplicationWaitsAtMostOneVisitBehindAFloodedOne) {
  expect_light_waits_at_most_one_round({1});
}

TEST(FairPicker, LightApplicationWaitsAtMostOneRoundOfQuotasBehindSeveralFloodedOnes) {
  expect_light_waits_at_most_one_round({1, 1, 4});
}

// Runs `visits` visits and returns the longest run of consecutive visits
// that `id` got.
size_t longest_run(FairPicker& picker, std::vector<Readiness>& view, uint32_t id, int visits) {
  Random random(11);
  size_t run = 0;
  size_t longest = 0;
  for (int i = 0; i < visits; ++i) {
    const auto served = serve_one(picker, view, random);
    if (!served) break;
    for (Readiness& r : view) r.pending = kFlood;
    run = served->id == id ? run + 1 : 0;
    longest = std::max(longest, run);
  }
  return longest;
}

TEST(FairPicker, NewApplicationCannotBankCredit) {
  FairPicker picker;
  ASSERT_TRUE(picker.add(1, 1));
  std::vector<Readiness> view{{1, kFlood, kRoomy}};
  Random random(5);
  for (int i = 0; i < 1'000; ++i) ASSERT_TRUE(serve_one(picker, view, random));
  // Registered late, with equal weight: it alternates with 1 instead of
  // getting the 1000 visits 1 had before it existed.
  ASSERT_TRUE(picker.add(2, 1));
  EXPECT_GE(picker.virtual_time(2), picker.virtual_time(1) - 2'000 - 64 * 1'200);
  view.push_back({2, kFlood, kRoomy});
  EXPECT_LE(longest_run(picker, view, 2, 200), 2u);
}

TEST(FairPicker, ApplicationIdleOrFullCannotBankCredit) {
  // Idle because nothing arrived, or because its reader left no room.
  for (const Readiness away : {Readiness{2, 0, kRoomy}, Readiness{2, kFlood, 0}}) {
    FairPicker picker;
    ASSERT_TRUE(picker.add(1, 1));
    ASSERT_TRUE(picker.add(2, 1));
    std::vector<Readiness> view{{1, kFlood, kRoomy}, away};
    Random random(5);
    for (int i = 0; i < 1'000; ++i) {
      const auto served = serve_one(picker, view, random);
      ASSERT_TRUE(served && served->id == 1);
      entry(view, 1).pending = kFlood;
    }
    entry(view, 2) = Readiness{2, kFlood, kRoomy};
    EXPECT_LE(longest_run(picker, view, 2, 200), 2u)
        << "away with pending " << away.pending << ", room " << away.room;
  }
}

TEST(FairPicker, CreditIsNotBankedWhenEveryoneWentIdleAtOnce) {
  FairPicker picker;
  ASSERT_TRUE(picker.add(1, 1));
  ASSERT_TRUE(picker.add(2, 1));
  std::vector<Readiness> view{{1, kFlood, kRoomy}, {2, 0, kRoomy}};
  Random random(5);
  for (int i = 0; i < 1'000; ++i) {
    ASSERT_TRUE(serve_one(picker, view, random));
    entry(view, 1).pending = kFlood;
  }
  // A moment with nothing ready, then both at once: 2 must still not get
  // the 1000 visits 1 had while 2 was idle.
  const std::vector<Readiness> nobody{{1, 0, kRoomy}, {2, 0, kRoomy}};
  EXPECT_EQ(picker.pick(nobody), std::nullopt);
  view = {{1, kFlood, kRoomy}, {2, kFlood, kRoomy}};
  EXPECT_LE(longest_run(picker, view, 2, 200), 2u);
}

TEST(FairPicker, FloorNeverDecreases) {
  FairPicker picker;
  ASSERT_TRUE(picker.add(1, 1));
  std::vector<Readiness> view{{1, kFlood, kRoomy}};
  Random random(9);
  double floor = picker.floor_virtual_time();
  for (int i = 0; i < 1'000; ++i) {
    ASSERT_TRUE(serve_one(picker, view, random));
    entry(view, 1).pending = kFlood;
    if (i == 500) {
      ASSERT_TRUE(picker.add(2, 1));  // joins at the floor, cannot pull it back
      view.push_back({2, kFlood, kRoomy});
    }
    ASSERT_GE(picker.floor_virtual_time(), floor);
    floor = picker.floor_virtual_time();
  }
  EXPECT_GT(floor, 0);
}

}  // namespace
}  // namespace lrp::sched
