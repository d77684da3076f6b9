#include "sched/policy/shed_controller.h"

#include <gtest/gtest.h>

namespace lrp::sched {
namespace {

constexpr Nanos kMilli = 1'000'000;
constexpr size_t kBound = 64;

// Fills the queue and keeps it full until the flag goes up; returns the time.
Nanos raise(ShedController& shed, Nanos now, Nanos step = kMilli) {
  while (!shed.update(now, kBound, kBound).shed) now += step;
  return now;
}

TEST(ShedController, DefaultsAreDocumentedValues) {
  const ShedConfig config;
  EXPECT_EQ(config.raise_after, 10 * kMilli);
  EXPECT_DOUBLE_EQ(config.lower_below, 0.5);
}

TEST(ShedController, RaisedOnlyAfterTheQueueStayedFullForRaiseAfter) {
  ShedController shed(ShedConfig{.raise_after = 10 * kMilli, .lower_below = 0.5});
  EXPECT_FALSE(shed.update(0, 10, kBound).shed);
  const Nanos full_from = 5 * kMilli;
  for (Nanos t = full_from; t < full_from + 10 * kMilli; t += kMilli) {
    const ShedDecision d = shed.update(t, kBound, kBound);
    ASSERT_FALSE(d.shed) << "at " << t;
    ASSERT_FALSE(d.changed);
  }
  const ShedDecision d = shed.update(full_from + 10 * kMilli, kBound, kBound);
  EXPECT_TRUE(d.shed);
  EXPECT_TRUE(d.changed);
  EXPECT_TRUE(shed.shed());
  EXPECT_EQ(shed.raises(), 1u);
  // Still full: still shed, no new change.
  const ShedDecision again = shed.update(full_from + 11 * kMilli, kBound, kBound);
  EXPECT_TRUE(again.shed);
  EXPECT_FALSE(again.changed);
  EXPECT_EQ(shed.raises(), 1u);
}

TEST(ShedController, OneUpdateWithRoomRestartsTheFullStretch) {
  ShedController shed(ShedConfig{.raise_after = 10 * kMilli, .lower_below = 0.5});
  Nanos t = 0;
  for (; t < 9 * kMilli; t += kMilli) shed.update(t, kBound, kBound);
  shed.update(t, kBound - 1, kBound);  // the reader took one: it is reading
  t += kMilli;
  for (Nanos until = t + 9 * kMilli; t <= until; t += kMilli)
    ASSERT_FALSE(shed.update(t, kBound, kBound).shed) << "at " << t;
  EXPECT_TRUE(shed.update(t + kMilli, kBound, kBound).shed);
}

TEST(ShedController, LoweredOnlyOnceDrainedToTheLowerThreshold) {
  ShedController shed(ShedConfig{.raise_after = 0, .lower_below = 0.5});
  Nanos t = raise(shed, 0);
  for (size_t occupancy = kBound; occupancy > kBound / 2; --occupancy) {
    const ShedDecision d = shed.update(t += kMilli, occupancy, kBound);
    ASSERT_TRUE(d.shed) << "occupancy " << occupancy;
    ASSERT_FALSE(d.changed);
  }
  const ShedDecision d = shed.update(t += kMilli, kBound / 2, kBound);
  EXPECT_FALSE(d.shed);
  EXPECT_TRUE(d.changed);
  EXPECT_EQ(shed.raises(), 1u);
  EXPECT_EQ(shed.lowers(), 1u);
}

TEST(ShedController, NoFlappingWhenOccupancyOscillatesAroundFull) {
  ShedController shed(ShedConfig{.raise_after = 10 * kMilli, .lower_below = 0.5});
  // Before the flag: dips below full keep restarting the stretch, so it never rises.
  Nanos t = 0;
  for (int i = 0; i < 10'000; ++i) {
    t += 100'000;
    ASSERT_FALSE(shed.update(t, i % 2 == 0 ? kBound : kBound - 1, kBound).changed);
  }
  // A reader that stopped: the flag rises once...
  t = raise(shed, t);
  EXPECT_EQ(shed.raises(), 1u);
  // ...and the queue then hovering around full does not bring it down.
  for (int i = 0; i < 10'000; ++i) {
    t += 100'000;
    const size_t occupancy = kBound - static_cast<size_t>(i % 4);  // 64, 63, 62, 61
    ASSERT_FALSE(shed.update(t, occupancy, kBound).changed) << "update " << i;
  }
  EXPECT_TRUE(shed.shed());
  // Drained: it comes down once, and hovering around the lower threshold
  // does not raise it again (that needs a full queue for raise_after).
  EXPECT_TRUE(shed.update(t += kMilli, kBound / 2, kBound).changed);
  for (int i = 0; i < 10'000; ++i) {
    t += 100'000;
    const size_t occupancy = kBound / 2 - 1 + static_cast<size_t>(i % 3);  // 31, 32, 33
    ASSERT_FALSE(shed.update(t, occupancy, kBound).changed) << "update " << i;
  }
  EXPECT_FALSE(shed.shed());
  EXPECT_EQ(shed.raises(), 1u);
  EXPECT_EQ(shed.lowers(), 1u);
}

TEST(ShedController, RaisesAgainAfterAnotherFullStretch) {
  ShedController shed(ShedConfig{.raise_after = 10 * kMilli, .lower_below = 0.25});
  Nanos t = raise(shed, 0);
  EXPECT_FALSE(shed.update(t += kMilli, 16, kBound).shed);
  const Nanos full_again = t + kMilli;
  t = raise(shed, full_again);
  EXPECT_GE(t - full_again, 10 * kMilli) << "the earlier stretch must not count";
  EXPECT_EQ(shed.raises(), 2u);
  EXPECT_EQ(shed.lowers(), 1u);
}

TEST(ShedController, ZeroBoundNeverSheds) {
  ShedController shed(ShedConfig{.raise_after = 0, .lower_below = 0.5});
  for (Nanos t = 0; t < 100 * kMilli; t += kMilli) ASSERT_FALSE(shed.update(t, 0, 0).shed);
  EXPECT_EQ(shed.raises(), 0u);
}

}  // namespace
}  // namespace lrp::sched
