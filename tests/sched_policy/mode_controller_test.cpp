// When the engine sleeps and when it polls: idle leads to interrupts, a burst
// leads to polling, and steady load near the idle threshold does not flap.
#include "sched/policy/mode_controller.h"

#include <gtest/gtest.h>

#include <cstdint>

#include "sched/policy/clock.h"

namespace lrp::sched {
namespace {

constexpr Nanos kMicro = 1'000;
constexpr Nanos kMilli = 1'000'000;

const AdaptiveConfig kDefaults{};

// Runs empty passes, each taking pass_time, until the controller wants to
// sleep or max_passes ran; returns how many passes that took.
uint64_t empty_passes_until_sleep(ModeController& mode, FakeClock& clock, Nanos pass_time,
                                  uint64_t max_passes) {
  for (uint64_t pass = 1; pass <= max_passes; ++pass) {
    clock.advance(pass_time);
    mode.on_pass(clock.now(), 0);
    if (mode.should_sleep()) return pass;
  }
  return max_passes + 1;
}

// Puts an engine in polling by a pass that did work at the clock's time.
void busy_pass(ModeController& mode, FakeClock& clock) {
  mode.on_pass(clock.now(), 5);
  ASSERT_TRUE(mode.polling());
}

TEST(ModeDefaults, AdaptiveNeeds64EmptyPassesAnd200Microseconds) {
  EXPECT_EQ(kDefaults.idle_passes, 64u);
  EXPECT_EQ(kDefaults.idle_time, 200 * kMicro);
}

// ---- idle -> interrupt ----

TEST(IdleToInterrupt, AdaptiveSleepsOnceBothPassCountAndTimeAreReached) {
  // Fast passes: 64 of them take 64 us, so the time condition decides.
  {
    FakeClock clock(1 * kMilli);
    ModeController mode(EngineMode::Adaptive, kDefaults);
    busy_pass(mode, clock);
    EXPECT_EQ(empty_passes_until_sleep(mode, clock, 1 * kMicro, 10'000), 200u);
    EXPECT_EQ(mode.switches_to_interrupt(), 1u);
  }
  // Slow passes: 200 us pass after 20 of them, so the pass count decides.
  {
    FakeClock clock(1 * kMilli);
    ModeController mode(EngineMode::Adaptive, kDefaults);
    busy_pass(mode, clock);
    EXPECT_EQ(empty_passes_until_sleep(mode, clock, 10 * kMicro, 10'000), 64u);
    EXPECT_EQ(mode.switches_to_interrupt(), 1u);
  }
}

TEST(IdleToInterrupt, InterruptModeSleepsAfterTheFirstEmptyPass) {
  FakeClock clock(1 * kMilli);
  ModeController mode(EngineMode::Interrupt, kDefaults);
  EXPECT_TRUE(mode.should_sleep()) << "an interrupt engine starts asleep";
  busy_pass(mode, clock);
  busy_pass(mode, clock);
  EXPECT_EQ(empty_passes_until_sleep(mode, clock, 1, 10'000), 1u);
  EXPECT_EQ(mode.switches_to_interrupt(), 1u);
}

TEST(IdleToInterrupt, PollModeNeverSleeps) {
  FakeClock clock(1 * kMilli);
  ModeController mode(EngineMode::Poll, kDefaults);
  EXPECT_TRUE(mode.polling());
  // A million empty passes over ten seconds: far past any idle threshold.
  EXPECT_EQ(empty_passes_until_sleep(mode, clock, 10 * kMicro, 1'000'000), 1'000'001u);
  mode.on_wakeup(clock.now());
  mode.on_pass(clock.now(), 3);
  EXPECT_TRUE(mode.polling());
  EXPECT_EQ(mode.switches_to_interrupt(), 0u);
  EXPECT_EQ(mode.switches_to_poll(), 0u) << "it never left polling, so it never switched";
}

// ---- burst -> poll ----

TEST(BurstToPoll, AdaptiveStartsAsleepAndAWakeupStartsPolling) {
  FakeClock clock(5 * kMilli);
  ModeController mode(EngineMode::Adaptive, kDefaults);
  EXPECT_TRUE(mode.should_sleep());
  mode.on_wakeup(clock.now());
  EXPECT_TRUE(mode.polling());
  EXPECT_FALSE(mode.should_sleep());
  EXPECT_EQ(mode.switches_to_poll(), 1u);
}

TEST(BurstToPoll, APassWithWorkStartsPolling) {
  for (EngineMode m : {EngineMode::Adaptive, EngineMode::Interrupt}) {
    FakeClock clock(5 * kMilli);
    ModeController mode(m, kDefaults);
    mode.on_pass(clock.now(), 1);
    EXPECT_TRUE(mode.polling());
    EXPECT_EQ(mode.switches_to_poll(), 1u);
  }
}

TEST(BurstToPoll, ABurstIsCountedAsOneSwitch) {
  for (EngineMode m : {EngineMode::Adaptive, EngineMode::Interrupt}) {
    FakeClock clock(5 * kMilli);
    ModeController mode(m, kDefaults);
    // The wake-up, then a burst of busy passes and repeated wake-ups.
    mode.on_wakeup(clock.now());
    for (int i = 0; i < 1000; ++i) {
      clock.advance(2 * kMicro);
      mode.on_pass(clock.now(), 32);
      if (i % 100 == 0) mode.on_wakeup(clock.now());
    }
    EXPECT_TRUE(mode.polling());
    EXPECT_EQ(mode.switches_to_poll(), 1u);
    EXPECT_EQ(mode.switches_to_interrupt(), 0u);
  }
}

// ---- back to interrupt only after the idle threshold ----

TEST(BackToInterrupt, ManyQuickEmptyPassesAloneDoNotSleep) {
  FakeClock clock(1 * kMilli);
  ModeController mode(EngineMode::Adaptive, kDefaults);
  busy_pass(mode, clock);
  // Ten times the pass count, all within idle_time - 1 ns.
  const uint64_t passes = 10 * kDefaults.idle_passes;
  const Nanos start = clock.now();
  for (uint64_t i = 0; i < passes; ++i) {
    clock.set(start +
              (kDefaults.idle_time - 1) * static_cast<Nanos>(i + 1) / static_cast<Nanos>(passes));
    mode.on_pass(clock.now(), 0);
    ASSERT_TRUE(mode.polling()) << "slept after " << i + 1 << " passes, " << clock.now() - start
                                << " ns";
  }
  // One more nanosecond reaches the time condition.
  clock.advance(1);
  mode.on_pass(clock.now(), 0);
  EXPECT_TRUE(mode.should_sleep());
  EXPECT_EQ(mode.switches_to_interrupt(), 1u);
}

TEST(BackToInterrupt, ALongGapAloneDoesNotSleep) {
  FakeClock clock(1 * kMilli);
  ModeController mode(EngineMode::Adaptive, kDefaults);
  busy_pass(mode, clock);
  // One slow pass far past idle_time, then passes up to one short of the count.
  clock.advance(100 * kDefaults.idle_time);
  for (uint32_t i = 1; i < kDefaults.idle_passes; ++i) {
    mode.on_pass(clock.now(), 0);
    clock.advance(kMicro);
    ASSERT_TRUE(mode.polling()) << "slept after " << i << " empty passes";
  }
  mode.on_pass(clock.now(), 0);
  EXPECT_TRUE(mode.should_sleep());
  EXPECT_EQ(mode.switches_to_interrupt(), 1u);
}

TEST(BackToInterrupt, WorkRestartsBothCountdowns) {
  FakeClock clock(1 * kMilli);
  ModeController mode(EngineMode::Adaptive, kDefaults);
  busy_pass(mode, clock);
  // Almost idle long enough on both counts, then one frame.
  for (uint32_t i = 1; i < kDefaults.idle_passes; ++i) {
    clock.advance(kDefaults.idle_time);
    mode.on_pass(clock.now(), 0);
  }
  busy_pass(mode, clock);
  // After the frame, the whole threshold is needed again: 63 slow passes
  // or 64 quick ones are not enough.
  for (uint32_t i = 1; i < kDefaults.idle_passes; ++i) {
    clock.advance(kDefaults.idle_time);
    mode.on_pass(clock.now(), 0);
    ASSERT_TRUE(mode.polling());
  }
  busy_pass(mode, clock);
  for (uint32_t i = 0; i < 2 * kDefaults.idle_passes; ++i) {
    clock.advance(1);
    mode.on_pass(clock.now(), 0);
    ASSERT_TRUE(mode.polling());
  }
  EXPECT_EQ(mode.switches_to_interrupt(), 0u);
  EXPECT_EQ(mode.switches_to_poll(), 1u);
}

TEST(BackToInterrupt, AWakeupRestartsBothCountdowns) {
  FakeClock clock(1 * kMilli);
  ModeController mode(EngineMode::Adaptive, kDefaults);
  mode.on_wakeup(clock.now());
  ASSERT_EQ(empty_passes_until_sleep(mode, clock, 10 * kMicro, 10'000), 64u);
  // Woken again much later: the old idle time does not count.
  clock.advance(50 * kMilli);
  mode.on_wakeup(clock.now());
  EXPECT_EQ(empty_passes_until_sleep(mode, clock, 1 * kMicro, 10'000), 200u);
  EXPECT_EQ(mode.switches_to_poll(), 2u);
  EXPECT_EQ(mode.switches_to_interrupt(), 2u);
}

// ---- no flapping under steady load near the threshold ----

TEST(NoFlapping, WorkJustInsideIdleTimeKeepsPollingFor1000Cycles) {
  FakeClock clock(1 * kMilli);
  ModeController mode(EngineMode::Adaptive, kDefaults);
  mode.on_wakeup(clock.now());
  // Each cycle: a pass with work, then quick empty passes (many more than
  // idle_passes) until the next frame arrives just under idle_time later.
  const Nanos gap = kDefaults.idle_time - kMicro;
  const Nanos pass_time = 500;
  for (int cycle = 0; cycle < 1000; ++cycle) {
    const Nanos work_at = clock.now();
    mode.on_pass(clock.now(), 1);
    while (clock.now() + pass_time < work_at + gap) {
      clock.advance(pass_time);
      mode.on_pass(clock.now(), 0);
      ASSERT_FALSE(mode.should_sleep()) << "cycle " << cycle;
    }
    clock.set(work_at + gap);
  }
  EXPECT_EQ(mode.switches_to_poll(), 1u);
  EXPECT_EQ(mode.switches_to_interrupt(), 0u);
}

}  // namespace
}  // namespace lrp::sched
