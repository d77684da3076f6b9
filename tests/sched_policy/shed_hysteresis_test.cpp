// The shed flag's two thresholds, driven by a fake clock as the engine would
// drive it: one update per pass with the receive queue's occupancy.
#include <gtest/gtest.h>

#include <cstddef>

#include "sched/policy/clock.h"
#include "sched/policy/shed_controller.h"

namespace lrp::sched {
namespace {

constexpr Nanos kMicro = 1'000;
constexpr Nanos kMilli = 1'000'000;
constexpr size_t kBound = 1'000;
constexpr size_t kNinetyPercent = kBound * 9 / 10;

TEST(ShedHysteresis, RaisedExactlyAtRaiseAfterOfContinuousFullness) {
  const ShedConfig config;
  FakeClock clock(3 * kMilli);
  ShedController shed(config);
  const Nanos full_from = clock.now();
  // An update every 50 us; the last one before raise_after must not raise.
  while (clock.now() - full_from < config.raise_after) {
    const ShedDecision d = shed.update(clock.now(), kBound, kBound);
    ASSERT_FALSE(d.shed) << "raised after " << clock.now() - full_from << " ns";
    clock.advance(50 * kMicro);
  }
  // One nanosecond short is still too early.
  clock.set(full_from + config.raise_after - 1);
  ASSERT_FALSE(shed.update(clock.now(), kBound, kBound).shed);
  clock.set(full_from + config.raise_after);
  const ShedDecision d = shed.update(clock.now(), kBound, kBound);
  EXPECT_TRUE(d.shed);
  EXPECT_TRUE(d.changed);
}

TEST(ShedHysteresis, ASingleSampleWithRoomRestartsTheTimer) {
  const ShedConfig config;
  FakeClock clock;
  ShedController shed(config);
  for (int round = 0; round < 100; ++round) {
    // Full for just under raise_after, then one sample with one slot free.
    const Nanos full_from = clock.now();
    while (clock.now() - full_from < config.raise_after - kMicro) {
      ASSERT_FALSE(shed.update(clock.now(), kBound, kBound).shed) << "round " << round;
      clock.advance(100 * kMicro);
    }
    ASSERT_FALSE(shed.update(clock.now(), kBound - 1, kBound).changed);
    clock.advance(kMicro);
  }
  EXPECT_FALSE(shed.shed()) << "a second of almost-always-full queues is not continuous fullness";
}

TEST(ShedHysteresis, OscillatingBetweenFullAndNinetyPercentAfterRaisingStaysRaised) {
  const ShedConfig config;
  FakeClock clock;
  ShedController shed(config);
  while (!shed.update(clock.now(), kBound, kBound).shed) clock.advance(kMilli);
  // Ten seconds of a queue hovering between full and 90 %: no change at all.
  for (int update = 0; update < 100'000; ++update) {
    clock.advance(100 * kMicro);
    const size_t occupancy = update % 2 == 0 ? kNinetyPercent : kBound;
    const ShedDecision d = shed.update(clock.now(), occupancy, kBound);
    ASSERT_TRUE(d.shed) << "update " << update;
    ASSERT_FALSE(d.changed) << "update " << update;
  }
}

TEST(ShedHysteresis, LoweredOnlyAtLowerBelowTimesTheBound) {
  const ShedConfig config;
  FakeClock clock;
  ShedController shed(config);
  while (!shed.update(clock.now(), kBound, kBound).shed) clock.advance(kMilli);
  const auto threshold = static_cast<size_t>(config.lower_below * kBound);
  // Draining one datagram at a time: still raised just above the threshold.
  for (size_t occupancy = kBound; occupancy > threshold; --occupancy) {
    clock.advance(10 * kMicro);
    ASSERT_FALSE(shed.update(clock.now(), occupancy, kBound).changed) << "lowered at " << occupancy;
  }
  clock.advance(10 * kMicro);
  const ShedDecision d = shed.update(clock.now(), threshold, kBound);
  EXPECT_FALSE(d.shed);
  EXPECT_TRUE(d.changed);
}

TEST(ShedHysteresis, OscillatingAroundFullBeforeRaiseAfterNeverRaises) {
  const ShedConfig config;
  FakeClock clock;
  ShedController shed(config);
  // Full for 9 ms, one sample just below full, repeated for ten seconds.
  for (int update = 0; update < 100'000; ++update) {
    clock.advance(100 * kMicro);
    const size_t occupancy = update % 90 == 89 ? kBound - 1 : kBound;
    ASSERT_FALSE(shed.update(clock.now(), occupancy, kBound).changed) << "update " << update;
  }
  EXPECT_FALSE(shed.shed());
}

}  // namespace
}  // namespace lrp::sched
