#include "sched/policy/clock.h"

#include <gtest/gtest.h>

namespace lrp::sched {
namespace {

TEST(FakeClock, MovesOnlyWhenTold) {
  FakeClock clock(1'000);
  EXPECT_EQ(clock.now(), 1'000);
  EXPECT_EQ(clock.now(), 1'000);
  clock.advance(250);
  EXPECT_EQ(clock.now(), 1'250);
  clock.set(7);
  EXPECT_EQ(clock.now(), 7);
}

TEST(MonotonicClock, NeverGoesBackwards) {
  MonotonicClock clock;
  Nanos last = clock.now();
  EXPECT_GT(last, 0);
  for (int i = 0; i < 1000; ++i) {
    const Nanos now = clock.now();
    ASSERT_GE(now, last);
    last = now;
  }
}

TEST(Clock, PolicyCodeTakesEitherThroughTheInterface) {
  FakeClock fake(42);
  MonotonicClock real;
  const Clock& a = fake;
  const Clock& b = real;
  EXPECT_EQ(a.now(), 42);
  EXPECT_GT(b.now(), 0);
}

}  // namespace
}  // namespace lrp::sched
