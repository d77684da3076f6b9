#include "sched/runtime/core_seats.h"

#include <sched.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <vector>

namespace lrp::sched {

namespace {

// A holder that has not polled for this long is doing something else.
constexpr int64_t kStaleNs = 1'000'000;

int64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1'000'000'000LL + ts.tv_nsec;
}

int current_cpu() {
  const int cpu = sched_getcpu();
  return cpu < 0 ? 0 : cpu;
}

// The calling thread: a token for the seat, where it holds one and where
// it sleeps. Leaves its seat when the thread ends.
struct ThisThread {
  int seat_cpu = -1;
  int sleep_cpu = -1;
  uint64_t token() const { return reinterpret_cast<uint64_t>(this); }
  ~ThisThread() { CoreSeats::instance().release(seat_cpu, token()); }
};

ThisThread& this_thread() {
  static thread_local ThisThread t;
  return t;
}

}  // namespace

struct CoreSeats::Core {
  alignas(64) std::atomic<uint64_t> seat{0};
  std::atomic<int64_t> seen{0};
  std::atomic<int> sleepers{0};
  std::mutex mutex;  // the sleepers
  std::vector<Pollable*> list;
};

CoreSeats& CoreSeats::instance() {
  static CoreSeats* seats = new CoreSeats();  // outlives every thread's exit
  return *seats;
}

CoreSeats::CoreSeats() {
  count_ = static_cast<int>(std::clamp<long>(sysconf(_SC_NPROCESSORS_CONF), 1, CPU_SETSIZE));
  cores_ = new Core[static_cast<size_t>(count_)];
}

CoreSeats::Core* CoreSeats::core(int cpu) const {
  return &cores_[std::clamp(cpu, 0, count_ - 1)];
}

bool CoreSeats::claim() {
  ThisThread& me = this_thread();
  const int cpu = current_cpu();
  if (me.seat_cpu >= 0 && me.seat_cpu != cpu) leave();  // it moved
  Core& c = *core(cpu);
  const uint64_t token = me.token();
  const int64_t now = now_ns();
  uint64_t holder = c.seat.load(std::memory_order_relaxed);
  if (holder != token) {
    if (holder != 0 && now - c.seen.load(std::memory_order_relaxed) < kStaleNs) return false;
    if (!c.seat.compare_exchange_strong(holder, token, std::memory_order_acq_rel)) return false;
    me.seat_cpu = cpu;
  }
  c.seen.store(now, std::memory_order_relaxed);
  return true;
}

void CoreSeats::release(int cpu, uint64_t token) {
  if (cpu < 0) return;
  core(cpu)->seat.compare_exchange_strong(token, 0, std::memory_order_acq_rel);
}

void CoreSeats::leave() {
  ThisThread& me = this_thread();
  release(me.seat_cpu, me.token());
  me.seat_cpu = -1;
}

void CoreSeats::sleeping(Pollable& p) {
  ThisThread& me = this_thread();
  me.sleep_cpu = current_cpu();
  Core& c = *core(me.sleep_cpu);
  std::lock_guard lock(c.mutex);
  c.list.push_back(&p);
  c.sleepers.fetch_add(1, std::memory_order_release);
}

void CoreSeats::awake(Pollable& p) {
  ThisThread& me = this_thread();
  if (me.sleep_cpu < 0) return;
  Core& c = *core(me.sleep_cpu);
  me.sleep_cpu = -1;
  std::lock_guard lock(c.mutex);
  auto it = std::find(c.list.begin(), c.list.end(), &p);
  if (it == c.list.end()) return;
  c.list.erase(it);
  c.sleepers.fetch_sub(1, std::memory_order_release);
}

bool CoreSeats::hand_off() {
  Core& c = *core(current_cpu());
  if (c.sleepers.load(std::memory_order_acquire) == 0) return false;
  bool work = false;
  {
    std::lock_guard lock(c.mutex);
    for (Pollable* p : c.list) {
      if (p->pure_poll()) {
        work = true;
        break;
      }
    }
  }
  if (work) sched_yield();
  return work;
}

int CoreSeats::sleepers(int cpu) const {
  return core(cpu)->sleepers.load(std::memory_order_acquire);
}

}  // namespace lrp::sched
