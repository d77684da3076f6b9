// The mode controller's counters, and when it needs the real time: the
// engine skips the clock read on empty passes when needs_time() is false.
#include <gtest/gtest.h>

#include "sched/policy/clock.h"
#include "sched/policy/mode_controller.h"

namespace lrp::sched {
namespace {

constexpr Nanos kMicro = 1'000;

TEST(ModeCounters, CountPassesEmptyPassesWakeupsAndSwitches) {
  ModeController mode(EngineMode::Interrupt);
  mode.on_wakeup(0);
  mode.on_pass(1, 5);
  mode.on_pass(2, 0);
  mode.on_wakeup(3);
  mode.on_pass(4, 0);
  const ModeCounters& c = mode.counters();
  EXPECT_EQ(c.wakeups, 2u);
  EXPECT_EQ(c.poll_passes, 3u);
  EXPECT_EQ(c.empty_passes, 2u);
  EXPECT_EQ(c.switches_to_poll, 2u);
  EXPECT_EQ(c.switches_to_interrupt, 2u);
}

TEST(ModeCounters, GapsJustOverIdleTimeSwitchOncePerGapEachWay) {
  // The contrast to steady load just under idle_time: the threshold is sharp.
  const AdaptiveConfig config;
  FakeClock clock;
  ModeController mode(EngineMode::Adaptive, config);
  const Nanos gap = config.idle_time + 10 * kMicro;
  for (int cycle = 0; cycle < 100; ++cycle) {
    if (mode.should_sleep()) mode.on_wakeup(clock.now());
    mode.on_pass(clock.now(), 1);
    const Nanos next = clock.now() + gap;
    while (mode.polling() && clock.now() + kMicro < next) {
      clock.advance(kMicro);
      mode.on_pass(clock.now(), 0);
    }
    clock.set(next);
  }
  EXPECT_EQ(mode.switches_to_poll(), 100u);
  EXPECT_EQ(mode.switches_to_interrupt(), 100u);
  EXPECT_EQ(mode.counters().wakeups, 100u);
}

TEST(NeedsTime, OnlyAdaptivePollingWithThePassCountMet) {
  const AdaptiveConfig config{.idle_passes = 4, .idle_time = 10 * kMicro};
  ModeController adaptive(EngineMode::Adaptive, config);
  EXPECT_FALSE(adaptive.needs_time()) << "asleep: an empty pass keeps it asleep";
  adaptive.on_wakeup(100 * kMicro);
  for (int pass = 1; pass < 4; ++pass) {
    EXPECT_FALSE(adaptive.needs_time()) << "pass " << pass;
    adaptive.on_pass(0, 0);  // the time a caller passes when it skipped the clock
    ASSERT_TRUE(adaptive.polling());
  }
  EXPECT_TRUE(adaptive.needs_time()) << "the fourth empty pass may end polling";
  adaptive.on_pass(105 * kMicro, 0);
  EXPECT_TRUE(adaptive.polling()) << "count met, time not yet";
  EXPECT_TRUE(adaptive.needs_time());
  adaptive.on_pass(110 * kMicro, 0);
  EXPECT_TRUE(adaptive.should_sleep());
  EXPECT_FALSE(adaptive.needs_time());

  for (EngineMode m : {EngineMode::Interrupt, EngineMode::Poll}) {
    ModeController mode(m, config);
    mode.on_wakeup(0);
    for (int pass = 0; pass < 10; ++pass) {
      EXPECT_FALSE(mode.needs_time());
      mode.on_pass(0, 0);
    }
  }
}

TEST(NeedsTime, SkippingTheClockGivesTheSameDecisionsAsReadingIt) {
  const AdaptiveConfig config;
  FakeClock clock;
  ModeController exact(EngineMode::Adaptive, config);
  ModeController lazy(EngineMode::Adaptive, config);
  // Bursts and gaps of varied lengths, some past the threshold.
  for (int cycle = 0; cycle < 200; ++cycle) {
    for (ModeController* m : {&exact, &lazy})
      if (m->should_sleep()) m->on_wakeup(clock.now());
    for (int busy = 0; busy < cycle % 5 + 1; ++busy) {
      clock.advance(2 * kMicro);
      exact.on_pass(clock.now(), 8);
      lazy.on_pass(clock.now(), 8);
    }
    const Nanos gap = (cycle % 7) * 50 * kMicro;
    for (Nanos t = 0; t < gap && exact.polling(); t += kMicro) {
      clock.advance(kMicro);
      exact.on_pass(clock.now(), 0);
      lazy.on_pass(lazy.needs_time() ? clock.now() : 0, 0);
      ASSERT_EQ(exact.state(), lazy.state()) << "cycle " << cycle;
    }
  }
  EXPECT_EQ(exact.counters().switches_to_interrupt, lazy.counters().switches_to_interrupt);
  EXPECT_GT(exact.counters().switches_to_interrupt, 10u);
}

}  // namespace
}  // namespace lrp::sched
