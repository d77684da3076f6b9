// CPU attribution from wall-clock visit times and occasional CPU-clock reads.
#include "sched/policy/cpu_attribution.h"

#include <gtest/gtest.h>

namespace lrp::sched {
namespace {

TEST(ContiguousAttribution, SplitsTheWindowsCpuInProportionToWallTime) {
  ContiguousAttribution a(3);
  a.open(1'000, 50'000);
  a.idle_until(1'100);  // 100 idle
  a.spent(0, 300);
  a.spent(2, 600);
  a.set_mark(2'000);
  // The thread had only 500 ns of CPU in 1000 ns of wall time.
  a.close(2'000, 50'500);
  EXPECT_EQ(a.charged(0), 150);
  EXPECT_EQ(a.charged(1), 0);
  EXPECT_EQ(a.charged(2), 300);
  EXPECT_EQ(a.idle(), 50);
  EXPECT_EQ(a.charged(0) + a.charged(1) + a.charged(2) + a.idle(), 500);
}

TEST(ContiguousAttribution, EverythingAddsUpToTheThreadsCpuAcrossWindowsAndSleeps) {
  ContiguousAttribution a(2);
  Nanos wall = 0;
  Nanos cpu = 0;
  a.open(wall, cpu);
  Nanos total = 0;
  for (int round = 0; round < 50; ++round) {
    a.spent(round % 2, 333 + round);
    wall += 333 + round;
    a.set_mark(wall);
    wall += 17;  // idle after the mark
    cpu += 349 + round;
    if (a.due(wall) || round % 7 == 0) {
      a.close(wall, cpu);
      total += a.charged(0) + a.charged(1) + a.idle();
    }
    if (round % 11 == 0) {
      cpu += 40;  // going to sleep and waking up costs CPU
      wall += 1'000'000;
      total += a.reopen_after_sleep(wall, cpu);
    }
  }
  a.close(wall, cpu);
  total += a.charged(0) + a.charged(1) + a.idle();
  EXPECT_EQ(total, cpu);
}

TEST(ContiguousAttribution, ALeavingApplicationsPendingTimeBecomesIdle) {
  ContiguousAttribution a(2);
  a.open(0, 0);
  a.spent(0, 400);
  a.spent(1, 600);
  a.set_mark(1'000);
  a.forget(1);
  a.close(1'000, 1'000);
  EXPECT_EQ(a.charged(0), 400);
  EXPECT_EQ(a.charged(1), 0);
  EXPECT_EQ(a.idle(), 600);
}

TEST(ContiguousAttribution, WindowIsDueAfterItsLength) {
  ContiguousAttribution a(1);
  a.open(5'000, 0);
  EXPECT_FALSE(a.due(5'000 + kCpuWindowNs - 1));
  EXPECT_TRUE(a.due(5'000 + kCpuWindowNs));
}

TEST(CappedAttribution, ChargesTimedVisitsWhenTheThreadHadTheCpu) {
  CappedAttribution a;
  a.open(0, 10'000);
  a.spent(200);
  a.spent(300);
  // The thread ran the whole time (visits plus its own application work).
  EXPECT_EQ(a.close(2'000'000, 10'000 + 2'000'000), 500);
  EXPECT_EQ(a.pending(), 0);
}

TEST(CappedAttribution, APreemptedVisitIsNotChargedForTimeOffTheCpu) {
  CappedAttribution a;
  a.open(0, 0);
  // One visit measured 3 ms of wall time, but the thread had 40 us of CPU.
  a.spent(3'000'000);
  EXPECT_EQ(a.close(3'100'000, 40'000), 40'000);
}

TEST(CappedAttribution, ANewWindowStartsFromTheClose) {
  CappedAttribution a;
  a.open(0, 0);
  a.spent(100);
  EXPECT_EQ(a.close(1'000, 1'000), 100);
  EXPECT_FALSE(a.due(1'000 + kCpuWindowNs - 1));
  a.spent(50);
  EXPECT_EQ(a.close(2'000, 1'020), 20);
}

}  // namespace
}  // namespace lrp::sched
