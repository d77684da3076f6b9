// The scheduler: whose protocol work runs next, and when the engine sleeps.
// Applications are named sets of sockets with a weight and a bounded receive
// queue. Protocol work for a socket runs only when its application has room
// for the result, is timed, and is charged to that application.
//
// The scheduler is the core (applications, sockets, visits, charging,
// shedding); a driver decides which threads do the work and how they wait:
// run to completion (each receiving thread does its own application's work,
// rtc_driver.h) or one dedicated engine thread (dedicated_driver.h). Both
// wait through the one wait policy (waiter.h).
#pragma once

#include <array>
#include <atomic>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "lrp/engine.h"
#include "lrp/result.h"
#include "sched/policy/clock.h"
#include "sched/policy/cpu_attribution.h"
#include "sched/policy/fair_pass.h"
#include "sched/policy/fair_picker.h"
#include "sched/policy/shed_controller.h"
#include "sched/policy/wait_policy.h"
#include "sched/runtime/app_channel.h"
#include "sched/runtime/counters.h"
#include "sched/runtime/kernel_assist.h"
#include "sched/runtime/modes.h"
#include "sched/runtime/spsc_ring.h"

namespace lrp::sched {

struct SchedulerConfig {
  Mode mode = Mode::Adaptive;
  // Eager (the BSD-order baseline) always runs on a dedicated thread.
  Threading threading = Threading::RunToCompletion;
  size_t quota = 64;           // frames per visit
  WaitConfig wait;             // spinning, deferral, saturation (adaptive)
  ShedConfig shed;             // when to drop at XDP
  int engine_cpu = -1;         // pin the dedicated engine thread
  int sleep_timeout_ms = 100;  // upper bound of one sleep (re-checks control changes)
  // Use the kernel's busy polling and IRQ suspension where the device has
  // a NAPI id (kernel_assist.h).
  bool kernel_assist = true;
  bool busy_poll = false;  // busy-poll the sockets even without a NAPI id seen
  // SCHED_FIFO priority of the dedicated engine thread, 0: normal. The eager
  // baseline uses it to run receive work at interrupt priority, as BSD did.
  int engine_rt_priority = 0;
};

struct AppSpec {
  std::string name;
  uint32_t weight = 1;
  uint32_t queue_bound = 1024;  // delivered, not yet read datagrams
  uint32_t held_cap = 512;      // frames the application may hold at once
};

using AppId = uint32_t;
// One application per lrp socket at most, so as many as the interface's slots.
inline constexpr size_t kMaxApps = LRP_MAX_SLOTS;

struct AppInfo {
  AppId id;
  std::string name;
  uint32_t weight;
  std::vector<SlotId> slots;
};

class SchedulerDriver;

class Scheduler {
 public:
  Scheduler(Engine& engine, const SchedulerConfig& config, const Clock& clock);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // An application of this engine. With a channel (an application in another
  // process, dedicated threading only) the engine delivers into the channel
  // and drains its transmit queue; without one, the application receives
  // from the scheduler's zero-copy queue.
  Result<AppId> add_app(const AppSpec& spec, std::unique_ptr<AppChannel> channel = nullptr);
  // Detaches the application's sockets and returns every frame it had queued.
  Status remove_app(AppId app);
  // Sends everything the application's channel holds for transmit, now
  // (an application about to go; not charged).
  void flush_transmit(AppId app);
  // Serves an engine socket (already open on the engine) for the application.
  Status attach_socket(AppId app, SlotId slot);
  // Stops serving the socket for the application and returns its datagrams
  // still queued for the application; the socket itself stays open on the
  // engine (its owner closes it). Not while a receive on the application is
  // under way.
  Status detach_socket(AppId app, SlotId slot);
  Status set_weight(AppId app, uint32_t weight);

  // Dedicated threading: starts and stops the engine thread. Run to
  // completion: the warden that sheds applications that stopped receiving.
  Status start();
  void stop();

  // Application side. Takes up to out.size() datagrams, waiting up to
  // timeout_ms (0: do not wait, <0: wait until something arrives). In
  // run-to-completion threading the caller's thread does the protocol work
  // for this application's sockets. One receiving thread per application
  // at a time.
  size_t receive(AppId app, std::span<Datagram> out, int timeout_ms);
  // Gives a received datagram's frame back.
  void done(const Datagram& datagram) { engine_.release(datagram); }
  void done(std::span<const Datagram> datagrams) { engine_.release(datagrams); }
  // Readable when receive() would find something (for the caller's epoll).
  int ready_fd(AppId app) const;
  size_t queued(AppId app) const;
  // Whether the application has work waiting (frames in its rings or
  // datagrams in its queue), without doing any and without waiting: false
  // also when it cannot tell at once (a pass holds the scheduler).
  bool pending(AppId app) const;

  // One engine pass over all applications (dedicated thread, or tests).
  size_t run_pass();

  const SchedulerConfig& config() const { return config_; }
  const AppCounters& app_counters(AppId app) const;
  // Runs f(counters, queued) while the application cannot leave; false if
  // it is gone (for readers on other threads, such as metrics).
  template <class F>
  bool with_app(AppId id, F&& f) const {
    std::lock_guard lock(mutex_);
    const App* a = app(id);
    if (a == nullptr) return false;
    f(app_counters(id), queued(id));
    return true;
  }
  const EngineCounters& engine_counters() const { return counters_; }
  std::vector<AppInfo> apps() const;
  // CPU time the engine thread has used (dedicated threading), as of the
  // end of its last attributed interval.
  int64_t engine_cpu_ns() const { return engine_cpu_ns_.load(std::memory_order_relaxed); }
  Engine& engine() { return engine_; }
  const KernelAssistant& kernel_assist() const { return assist_; }

 private:
  // The drivers and what they poll work on the core's insides.
  friend class SchedulerDriver;
  friend class RunToCompletionDriver;
  friend class DedicatedDriver;
  friend class ShedWarden;
  friend class RtcPoll;
  friend class EnginePoll;
  friend class QueuePoll;
  struct App;
  App* app(AppId id) const;

  // The core's work; callers hold mutex_ unless said otherwise.
  size_t pending_frames(const App& a) const;
  size_t room_of(const App& a) const;
  size_t visit(App& a, size_t budget, std::span<Datagram> out);
  size_t visit_rtc(App& a, std::span<Datagram> out);  // takes the lock itself
  void deliver(App& a, std::span<const Datagram> batch, size_t* delivered);
  size_t eager_pass();
  size_t fair_pass();
  size_t transmit_pass();
  void update_shed(App& a, Nanos now, size_t used, size_t bound);
  void drive_busy_poll(App& a);
  void note_first_packets(App& a);
  void settle_kernel_assist();
  void rearm(App& a, bool want_events);
  void ring_doorbell();

  // Charging (scheduler_charge.cpp).
  void close_window(Nanos wall);
  void charge_rtc(App& a, Nanos start, Nanos end);
  void flush_rtc_charge(App& a);  // takes the lock itself

  Engine& engine_;
  SchedulerConfig config_;
  const Clock& clock_;
  mutable std::mutex mutex_;  // apps and sockets; held by the engine for a pass
  std::array<std::unique_ptr<App>, kMaxApps> apps_;
  FairPicker picker_;
  EngineCounters counters_;
  KernelAssistant assist_;
  int epoll_fd_ = -1;
  // The engine's wait set tags: an application id for its sockets, this bit
  // and the id for its channel's doorbell, all ones for doorbell_fd_.
  static constexpr uint64_t kChannelWake = uint64_t{1} << 62;
  int doorbell_fd_ = -1;  // applications ring it when they make room
  // What ends the engine's deferral timers (same tags): doorbell_fd_ and
  // the channels' doorbells, never the sockets' arrivals.
  int urgent_epoll_fd_ = -1;
  std::atomic<int64_t> engine_cpu_ns_{0};
  // The engine thread's last pass delivered to an application in another
  // process, whose replies this engine sends (engine thread only).
  bool delivered_to_channel_ = false;
  bool transmitted_for_channel_ = false;  // and sent what one queued
  ContiguousAttribution attribution_;     // the engine thread's CPU, by application
  std::unique_ptr<SchedulerDriver> driver_;
};

}  // namespace lrp::sched
