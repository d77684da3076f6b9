// The wait loop's deferral timer: it holds back arrivals so they batch, but
// work on the waiter's urgent set (an answer an lrpd application queued)
// ends it at once. The policy runs on a fake clock, so the gaps it learns
// (and so the timer's length) are set by the test; the sleeps are real.
#include "sched/runtime/waiter.h"

#include <gtest/gtest.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace lrp::sched {
namespace {

using namespace std::chrono_literals;

constexpr Nanos kMs = 1'000'000;

// Nothing until `work` is set. The urgent set is an eventfd in an epoll set.
class ScriptedWork final : public Pollable {
 public:
  explicit ScriptedWork(bool with_urgent_set) {
    if (!with_urgent_set) return;
    bell_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    urgent_ = epoll_create1(EPOLL_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = 7;
    epoll_ctl(urgent_, EPOLL_CTL_ADD, bell_, &ev);
  }
  ~ScriptedWork() override {
    if (bell_ >= 0) close(bell_);
    if (urgent_ >= 0) close(urgent_);
  }
  size_t poll() override { return work.exchange(false) ? 1 : 0; }
  bool pure_poll() override { return work.load(); }
  bool try_enter_interrupt_mode() override { return !work.load(); }
  void exit_interrupt_mode() override {}
  int wake_fd() const override { return -1; }
  int urgent_fd() const override { return urgent_; }
  bool try_arm_urgent() override {
    if (work_when_armed) work = true;
    return !work.load();
  }
  void urgent_woken(uint64_t tag) override {
    woken_tag = tag;
    uint64_t value;
    (void)!read(bell_, &value, sizeof(value));
  }
  void ring() {
    work = true;
    const uint64_t one = 1;
    (void)!write(bell_, &one, sizeof(one));
  }

  std::atomic<bool> work{false};
  bool work_when_armed = false;  // work comes as the urgent set is armed
  uint64_t woken_tag = 0;

 private:
  int bell_ = -1;
  int urgent_ = -1;
};

// A policy that defers: arrivals `gap` apart give a timer of 8 gaps.
WaitConfig deferring() {
  WaitConfig c;
  c.wake_cost = 1'000;
  c.defer_max = 2'000 * kMs;
  c.defer_below = 10'000 * kMs;
  c.gap_memory = 2;
  return c;
}

// Arrivals `gap` apart on the fake clock, each found by a look of its own,
// the last one just now: the waiter is about to defer.
void learn(Waiter& waiter, FakeClock& clock, Nanos gap) {
  WaitPolicy& policy = waiter.policy();
  for (int i = 0; i < 16; ++i) {
    clock.advance(gap);
    policy.on_poll(clock.now(), 1);
    policy.on_poll(clock.now(), 0);
  }
  clock.advance(gap);
  policy.on_poll(clock.now(), 1);
  ASSERT_EQ(policy.regime(), WaitRegime::Defer);
}

// One wait for work that `arrive` brings from another thread `after` the
// wait began; its length in milliseconds.
template <class Arrive>
double timed_wait(Waiter& waiter, Pollable& p, std::chrono::milliseconds after, Arrive arrive) {
  std::thread other([&] {
    std::this_thread::sleep_for(after);
    arrive();
  });
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(waiter.wait(p, -1), 1u);
  const auto end = std::chrono::steady_clock::now();
  other.join();
  return std::chrono::duration<double, std::milli>(end - start).count();
}

// A waiter about to defer, after arrivals `gap` apart.
struct Deferring {
  Deferring(Nanos gap, bool with_urgent_set) : work(with_urgent_set) { learn(waiter, clock, gap); }
  const WaitCounters& counters() const { return waiter.policy().counters(); }

  FakeClock clock{1'000 * kMs};
  Waiter waiter{WaitMode::Adaptive, deferring(), clock};
  ScriptedWork work;
};

TEST(Waiter, ADeferralTimerRunsItsLengthWhenNothingUrgentComes) {
  Deferring d(10 * kMs, /*with_urgent_set=*/true);
  EXPECT_NEAR(d.waiter.policy().defer_window(), 80 * kMs, 4 * kMs);
  // An arrival is found at the timer's end, as a batch would be.
  EXPECT_GE(timed_wait(d.waiter, d.work, 10ms, [&] { d.work.work = true; }), 75)
      << "the arrival ended the deferral";
  EXPECT_EQ(d.counters().timer_sleeps, 1u);
  EXPECT_EQ(d.counters().event_sleeps, 0u);
}

TEST(Waiter, UrgentWorkEndsADeferralTimerAtOnce) {
  Deferring d(200 * kMs, /*with_urgent_set=*/true);
  ASSERT_NEAR(d.waiter.policy().defer_window(), 1'600 * kMs, 80 * kMs);
  EXPECT_LT(timed_wait(d.waiter, d.work, 20ms, [&] { d.work.ring(); }), 800)
      << "the 1.6 s deferral timer was not ended by the urgent set";
  EXPECT_EQ(d.work.woken_tag, 7u);
  EXPECT_EQ(d.counters().timer_sleeps, 1u);
  EXPECT_EQ(d.counters().event_sleeps, 0u);
}

TEST(Waiter, UrgentWorkAlreadyThereSkipsTheTimer) {
  Deferring d(200 * kMs, /*with_urgent_set=*/true);
  // Queued between the empty look and the sleep: arming the urgent set
  // finds it, and the waiter looks again instead of sleeping.
  d.work.work_when_armed = true;
  EXPECT_LT(timed_wait(d.waiter, d.work, 0ms, [] {}), 800);
}

TEST(Waiter, WithoutAnUrgentSetTheTimerIsAPlainSleep) {
  Deferring d(10 * kMs, /*with_urgent_set=*/false);
  EXPECT_GE(timed_wait(d.waiter, d.work, 10ms, [&] { d.work.work = true; }), 75);
  EXPECT_EQ(d.counters().timer_sleeps, 1u);
}

}  // namespace
}  // namespace lrp::sched
