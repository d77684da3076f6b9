// The one assembly of lrp on an interface: the interface (XDP program and an
// engine per served queue), a scheduler per queue, the engine threads pinned
// to their queues' CPUs, and the link monitor. lrpd runs one per interface;
// the in-process native API and lrp-echo run one in their own process.
//
// An application exists in every queue's scheduler; its sockets have an
// AF_XDP socket on every queue. Receiving gathers from the queues in turn;
// each queue's scheduler does and charges its own protocol work, so a
// flooded queue cannot take the others' share.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "exporters/metrics_source.h"
#include "lrp/interface.h"
#include "lrp/link_monitor.h"
#include "lrp/result.h"
#include "sched/policy/clock.h"
#include "sched/runtime/scheduler.h"

namespace lrp::runtime {

struct RuntimeConfig {
  InterfaceConfig interface;
  // Mode, threading, quota, hysteresis; engine_cpu is set per queue.
  sched::SchedulerConfig scheduler;
  // CPUs the queues' engine threads may use; empty: the process's own. A
  // queue goes on the CPU of its interrupt when that is allowed, else the
  // allowed CPUs are dealt round-robin.
  std::vector<int> cpus;
  // Prefix of the link monitor's messages ("lrp-echo", "lrpd").
  std::string program = "lrp";
  // Called on the monitor's thread when the link goes down, up or away;
  // the message is printed either way.
  LinkMonitor::Handler on_link_change;
};

// An application of the runtime (an index; stable while it exists).
using AppRef = uint32_t;

// Makes an application's channel for the i-th served queue (applications
// in another process).
using ChannelFactory = std::function<std::unique_ptr<sched::AppChannel>(size_t queue_index)>;

class InterfaceRuntime {
 public:
  static Result<std::unique_ptr<InterfaceRuntime>> open(const RuntimeConfig& config);
  // Stops the threads, removes every application and closes its sockets.
  ~InterfaceRuntime();
  InterfaceRuntime(const InterfaceRuntime&) = delete;
  InterfaceRuntime& operator=(const InterfaceRuntime&) = delete;

  // Engine threads (dedicated) or the shedding wardens (run to completion).
  Status start();
  void stop();

  Result<AppRef> add_app(const sched::AppSpec& spec, const ChannelFactory& channels = {});
  // Closes its sockets and returns every frame it held queued.
  Status remove_app(AppRef app);
  // Has queue 0's engine send what the application's channel holds for
  // transmit (see Scheduler::flush_transmit).
  void flush_transmit(AppRef app);
  Status set_weight(AppRef app, uint32_t weight);
  // Opens the socket on every queue and serves it for the application.
  Result<SlotId> add_socket(AppRef app, const BindSpec& bind);
  Status remove_socket(AppRef app, SlotId slot);
  // Moves a socket to another flow (connect, disconnect). Datagrams of the
  // old flow already queued stay queued.
  Status rebind_socket(AppRef app, SlotId slot, const BindSpec& bind);
  Status join_group(SlotId slot, const IpAddress& group);
  Status leave_group(SlotId slot, const IpAddress& group);

  // Zero-copy receive for applications in this process, gathered from the
  // queues in turn (see sched::Scheduler::receive).
  size_t receive(AppRef app, std::span<Datagram> out, int timeout_ms);
  void done(const Datagram& datagram);
  void done(std::span<const Datagram> datagrams);
  // Readable when receive() would find something, on any queue.
  int ready_fd(AppRef app) const;
  size_t queued(AppRef app) const;
  // Frames waiting in the application's rings or queues, read without a
  // system call or lock (a spinning receiver's cheap look).
  bool maybe_pending(AppRef app);

  // The engine a datagram from `slot` is sent on: the queue the thread's
  // CPU serves, else the slot's turn among the queues.
  Engine& engine_for_send(SlotId slot);
  Engine* engine_of_queue(uint32_t queue) { return interface_->engine_of_queue(queue); }

  Interface& interface() { return *interface_; }
  size_t queue_count() const { return interface_->queue_count(); }
  Engine& engine(size_t i) { return interface_->engine(i); }
  sched::Scheduler& scheduler(size_t i) { return *schedulers_[i]; }
  const sched::Scheduler& scheduler(size_t i) const { return *schedulers_[i]; }
  // The CPU of the i-th queue's engine thread (-1: not pinned).
  int cpu_of(size_t i) const { return cpus_[i]; }
  // The application's id in the i-th queue's scheduler.
  sched::AppId app_id(AppRef app, size_t i) const;
  const RuntimeConfig& config() const { return config_; }
  const LinkMonitor& link() const { return *link_; }
  // What a metrics endpoint reads: each queue's engine and scheduler.
  std::vector<exporters::MetricsSource> metrics_sources();

 private:
  struct App;
  class GatherPoll;
  InterfaceRuntime() = default;
  App* app(AppRef ref) const;
  size_t gather(App& a, std::span<Datagram> out);

  RuntimeConfig config_;
  sched::MonotonicClock clock_;
  std::unique_ptr<Interface> interface_;
  std::vector<std::unique_ptr<sched::Scheduler>> schedulers_;
  std::vector<int> cpus_;
  std::unique_ptr<LinkMonitor> link_;
  mutable std::mutex mutex_;  // apps_ (receives run without it: an app outlives its receives)
  std::vector<std::unique_ptr<App>> apps_;
};

}  // namespace lrp::runtime
