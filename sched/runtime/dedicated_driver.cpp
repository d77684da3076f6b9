#include "sched/runtime/dedicated_driver.h"

#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include <mutex>
#include <string>

#include "sched/runtime/scheduler_app.h"

namespace lrp::sched {

// The whole engine, polled by its thread: a pass over every application.
class EnginePoll final : public Pollable {
 public:
  EnginePoll(Scheduler& s, Waiter& waiter) : s_(s), waiter_(waiter) {}
  size_t poll() override { return s_.run_pass(); }
  // From another thread on the engine's core while it sleeps.
  bool pure_poll() override {
    std::unique_lock lock(s_.mutex_, std::try_to_lock);
    if (!lock.owns_lock()) return false;
    for (const auto& a : s_.apps_) {
      if (a == nullptr) continue;
      if (s_.room_of(*a) > 0 && s_.pending_frames(*a) > 0) return true;
      if (a->channel != nullptr && a->channel->transmit_pending()) return true;
    }
    return false;
  }
  // An application without room must not wake the engine: its sockets
  // leave the wait set until it reads and rings the doorbell.
  bool try_enter_interrupt_mode() override {
    std::lock_guard lock(s_.mutex_);
    bool ready = false;
    for (const auto& a : s_.apps_) {
      if (a == nullptr) continue;
      const bool has_room = s_.room_of(*a) > 0;
      a->was_full.store(!has_room, std::memory_order_release);
      // Eager has no feedback: a full application still interrupts it.
      s_.rearm(*a, has_room || s_.config_.mode == Mode::Eager);
      ready = ready || (has_room && s_.pending_frames(*a) > 0) ||
              (a->channel != nullptr && a->channel->transmit_pending());
    }
    return !ready;
  }
  void exit_interrupt_mode() override {
    uint64_t value;
    (void)!read(s_.doorbell_fd_, &value, sizeof(value));
  }
  // An application that rang its channel is heard once: left readable, the
  // doorbell would end every sleep until its flag settles.
  void woken_by(uint64_t tag) override {
    if (tag == ~uint64_t{0} || (tag & Scheduler::kChannelWake) == 0) return;
    const uint64_t id = tag & ~Scheduler::kChannelWake;
    std::lock_guard lock(s_.mutex_);
    if (id < s_.apps_.size() && s_.apps_[id] != nullptr && s_.apps_[id]->channel != nullptr)
      s_.apps_[id]->channel->drain_wake();
  }
  int wake_fd() const override { return s_.epoll_fd_; }
  bool answer_due() const override { return s_.delivered_to_channel_; }
  bool answered() const override { return s_.transmitted_for_channel_; }
  // A deferral holds back arrivals, not the answers applications queued.
  int urgent_fd() const override { return s_.urgent_epoll_fd_; }
  bool try_arm_urgent() override {
    std::lock_guard lock(s_.mutex_);
    for (const auto& a : s_.apps_)
      if (a != nullptr && a->channel != nullptr && a->channel->transmit_pending()) return false;
    return true;
  }
  void urgent_woken(uint64_t tag) override {
    if (tag == ~uint64_t{0}) {
      exit_interrupt_mode();  // drains doorbell_fd_
      return;
    }
    woken_by(tag);
  }
  // Every stretch of the thread's CPU is attributed: before a sleep the
  // window closes, after it the CPU spent sleeping and waking is counted
  // (and teaches the policy what a wake-up costs).
  void before_sleep() override {
    std::lock_guard lock(s_.mutex_);
    s_.close_window(wall_ns());
  }
  void after_sleep() override {
    std::lock_guard lock(s_.mutex_);
    const Nanos cpu = thread_cpu_ns();
    const Nanos slept = s_.attribution_.reopen_after_sleep(wall_ns(), cpu);
    bump(s_.counters_.sleep_ns, static_cast<uint64_t>(slept));
    s_.engine_cpu_ns_.store(cpu, std::memory_order_relaxed);
    waiter_.policy().learn_wake_cost(slept);
  }

 private:
  Scheduler& s_;
  Waiter& waiter_;
};

// A receiving thread's wait for what the engine delivered into its queue.
class QueuePoll final : public Pollable {
 public:
  QueuePoll(Scheduler& s, Scheduler::App& a, std::span<Datagram> out) : s_(s), a_(a), out_(out) {}
  size_t poll() override {
    size_t n = 0;
    while (n < out_.size() && a_.queue.pop(&out_[n])) ++n;
    if (n == 0) return 0;
    uint64_t value;
    (void)!read(a_.doorbell_fd, &value, sizeof(value));
    // Level-triggered for the caller's epoll: readable while datagrams remain.
    if (a_.queue.size() > 0) {
      const uint64_t one = 1;
      (void)!write(a_.doorbell_fd, &one, sizeof(one));
    }
    // The engine stopped polling this application while it was full.
    if (a_.was_full.exchange(false, std::memory_order_acq_rel)) s_.ring_doorbell();
    return n;
  }
  bool pure_poll() override { return a_.queue.size() > 0; }
  bool try_enter_interrupt_mode() override { return a_.queue.size() == 0; }
  void exit_interrupt_mode() override {}
  int wake_fd() const override { return a_.doorbell_fd; }
  bool wake_fd_is_epoll() const override { return false; }

 private:
  Scheduler& s_;
  Scheduler::App& a_;
  std::span<Datagram> out_;
};

DedicatedDriver::DedicatedDriver(Scheduler& s)
    : s_(s), waiter_(wait_mode(s.config_.mode), s.config_.wait, s.clock_, &s.counters_) {}

DedicatedDriver::~DedicatedDriver() {
  stop();
}

Status DedicatedDriver::start() {
  if (running_.exchange(true)) return {};
  thread_ = std::thread([this] { loop(); });
  if (const int priority = s_.config_.engine_rt_priority; priority > 0) {
    sched_param param{};
    param.sched_priority = priority;
    if (const int err = pthread_setschedparam(thread_.native_handle(), SCHED_FIFO, &param);
        err != 0) {
      stop();
      return make_error(err,
                        "set the engine thread to SCHED_FIFO priority " + std::to_string(priority));
    }
  }
  return {};
}

void DedicatedDriver::stop() {
  if (!running_.exchange(false)) return;
  s_.ring_doorbell();
  if (thread_.joinable()) thread_.join();
}

void DedicatedDriver::loop() {
  if (s_.config_.engine_cpu >= 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(s_.config_.engine_cpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
  }
  // Every stretch of the thread's CPU time from here on is attributed to an
  // application, to idle polling or to sleeping: the intervals are contiguous.
  {
    std::lock_guard lock(s_.mutex_);
    s_.attribution_.open(wall_ns(), thread_cpu_ns());
  }
  EnginePoll poll(s_, waiter_);
  while (running_.load(std::memory_order_relaxed)) waiter_.wait(poll, -1, &running_);
  std::lock_guard lock(s_.mutex_);
  s_.close_window(wall_ns());
}

size_t DedicatedDriver::receive(Scheduler::App& a, std::span<Datagram> out, int timeout_ms) {
  if (a.waiter == nullptr) {
    // The engine thread's deferral batches what it delivers: the receiver
    // sleeps until a batch comes.
    WaitConfig wait = s_.config_.wait;
    wait.defer = false;
    a.waiter = std::make_unique<Waiter>(wait_mode(s_.config_.mode), wait, s_.clock_);
  }
  QueuePoll poll(s_, a, out);
  return a.waiter->wait(poll, receive_deadline(s_.clock_, timeout_ms));
}

int DedicatedDriver::ready_fd(const Scheduler::App& a) const {
  return a.doorbell_fd;
}

}  // namespace lrp::sched
