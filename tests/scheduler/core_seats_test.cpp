// One poller per core: the seat of a core goes to one thread at a time, is
// free again when its holder leaves or goes quiet, and a thread polling on
// a core steps aside only for a sleeper of that core that has work.
#include "sched/runtime/core_seats.h"

#include <gtest/gtest.h>
#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace lrp::sched {
namespace {

void pin_to(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  ASSERT_EQ(pthread_setaffinity_np(pthread_self(), sizeof(set), &set), 0);
}

class FakeWork final : public Pollable {
 public:
  explicit FakeWork(bool work) : work_(work) {}
  size_t poll() override { return 0; }
  bool pure_poll() override {
    ++looked;
    return work_.load();
  }
  bool try_enter_interrupt_mode() override { return true; }
  void exit_interrupt_mode() override {}
  int wake_fd() const override { return -1; }
  std::atomic<bool> work_;
  std::atomic<int> looked{0};
};

// Runs f on a new thread pinned to cpu and returns its result.
template <class F>
auto on_cpu(int cpu, F&& f) {
  decltype(f()) result{};
  std::thread t([&] {
    pin_to(cpu);
    result = f();
  });
  t.join();
  return result;
}

// A second thread on the core claims right after the holder's last claim.
// The seat goes to it only once the holder has been quiet for a
// millisecond; on a slow or busy machine the hand-over itself can take
// that long, so only the attempts made within half of it count.
TEST(CoreSeats, OneHolderPerCoreUntilItLeaves) {
  using Clock = std::chrono::steady_clock;
  CoreSeats& seats = CoreSeats::instance();
  pin_to(0);
  ASSERT_TRUE(seats.claim());
  EXPECT_TRUE(seats.claim()) << "the holder keeps its seat";
  int timely = 0;
  for (int attempt = 0; attempt < 200 && timely < 5; ++attempt) {
    std::atomic<bool> go{false};
    Clock::time_point claimed_at;
    bool got = false;
    std::thread second([&] {
      pin_to(0);
      while (!go.load()) std::this_thread::yield();
      claimed_at = Clock::now();
      got = seats.claim();
      if (got) seats.leave();
    });
    std::this_thread::yield();
    ASSERT_TRUE(seats.claim()) << "the holder lost its seat";
    const Clock::time_point refreshed = Clock::now();
    go = true;
    second.join();
    if (claimed_at - refreshed > std::chrono::microseconds(500)) continue;
    ++timely;
    EXPECT_FALSE(got) << "a second thread on the core";
  }
  EXPECT_GT(timely, 0) << "no attempt came within 0.5 ms of the holder's claim";
  seats.leave();
  EXPECT_TRUE(on_cpu(0, [&] {
    const bool got = seats.claim();
    seats.leave();
    return got;
  }));
}

TEST(CoreSeats, AQuietHolderLosesItsSeat) {
  CoreSeats& seats = CoreSeats::instance();
  pin_to(0);
  ASSERT_TRUE(seats.claim());
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_TRUE(on_cpu(0, [&] {
    const bool got = seats.claim();
    seats.leave();
    return got;
  })) << "a holder that stopped polling keeps the core from nobody";
  seats.leave();
}

TEST(CoreSeats, StepsAsideOnlyForASleeperWithWork) {
  CoreSeats& seats = CoreSeats::instance();
  pin_to(0);
  FakeWork idle(false), busy(true);
  std::atomic<int> phase{0};
  std::thread sleeper([&] {
    pin_to(0);
    seats.sleeping(idle);
    phase = 1;
    while (phase.load() != 2) std::this_thread::yield();
    seats.awake(idle);
    seats.sleeping(busy);
    phase = 3;
    while (phase.load() != 4) std::this_thread::yield();
    seats.awake(busy);
    phase = 5;
  });
  while (phase.load() != 1) std::this_thread::yield();
  EXPECT_EQ(seats.sleepers(0), 1);
  EXPECT_FALSE(seats.hand_off()) << "the sleeper has nothing to do";
  EXPECT_GE(idle.looked.load(), 1);
  phase = 2;
  while (phase.load() != 3) std::this_thread::yield();
  EXPECT_TRUE(seats.hand_off()) << "the sleeper has work: the core is handed over";
  // A sleeper of another core is not this core's business.
  if (std::thread::hardware_concurrency() > 1) {
    EXPECT_FALSE(on_cpu(1, [&] { return seats.hand_off(); }));
  }
  phase = 4;
  while (phase.load() != 5) std::this_thread::yield();
  sleeper.join();
  EXPECT_EQ(seats.sleepers(0), 0);
}

}  // namespace
}  // namespace lrp::sched
