// ServiceBackend over the single-queue Engine and Scheduler: one engine
// (queue 0) and one dedicated scheduler per interface, and one delivery
// thread per interface that moves what the scheduler delivered into the
// applications' RX rings (releasing the frames at once) and drains their TX
// rings. The scheduler does the protocol work, in weighted order, only for
// applications with room; an application's full RX ring keeps its
// scheduler queue full, so the scheduler stops working for it.
//
// It is the backend lrpd uses until the multi-queue InterfaceRuntime takes
// over the assembly; the control plane does not change when it does.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "lrp/engine.h"
#include "lrp/link_monitor.h"
#include "sched/policy/clock.h"
#include "sched/runtime/scheduler.h"
#include "service/daemon/backend.h"
#include "service/wire/unique_fd.h"

namespace lrp::service {

struct EngineBackendConfig {
  std::vector<std::string> interfaces;
  std::vector<int> cpus;  // engine threads pinned round-robin over these (empty: not pinned)
  sched::Mode mode = sched::Mode::Adaptive;
  XdpMode xdp_mode = XdpMode::Native;
};

class EngineBackend : public ServiceBackend {
 public:
  // Attaches to every interface (EPERM without privileges, ENODEV unknown).
  static Result<std::unique_ptr<EngineBackend>> open(const EngineBackendConfig& config);
  ~EngineBackend() override;

  std::vector<ServedInterface> interfaces() const override;
  Status start() override;
  void stop() override;
  Result<BackendApp> add_app(const BackendAppSpec& spec, AppPort& port) override;
  Status remove_app(BackendApp app) override;
  Result<BackendSocket> add_socket(BackendApp app, const BackendSocketSpec& spec) override;
  Status remove_socket(BackendApp app, BackendSocket socket) override;
  Status set_weight(BackendApp app, uint32_t weight) override;
  Status join_group(uint32_t iface, const IpAddress& group) override;
  Status leave_group(uint32_t iface, const IpAddress& group) override;
  std::vector<EngineStatus> engine_status() const override;
  BackendAppCounters app_counters(BackendApp app) const override;
  BackendSocketCounters socket_counters(BackendSocket socket) const override;

  // For the metrics endpoint: each interface's engine and scheduler.
  struct Served {
    Engine* engine;
    sched::Scheduler* scheduler;
  };
  std::vector<Served> served() const;

 private:
  struct Iface;
  struct AppSlot;
  class Sender;
  EngineBackend() = default;
  void pump(Iface& f);
  size_t pump_pass(Iface& f, Sender& sender);
  Iface* iface_of(BackendSocket socket) const;

  EngineBackendConfig config_;
  std::vector<std::unique_ptr<Iface>> ifaces_;
  sched::MonotonicClock clock_;
  mutable std::mutex apps_mutex_;  // the application table (control thread writes)
  std::vector<std::unique_ptr<AppSlot>> apps_;
  BackendApp next_app_ = 1;
  std::atomic<bool> running_{false};
};

}  // namespace lrp::service
