// ServiceBackend over runtime::InterfaceRuntime: one runtime per served
// interface (XDP program, an engine and a dedicated scheduler per receive
// queue, pinned engine threads, link monitor). Each application exists in
// every queue's scheduler with a sched::AppChannel over its AppPort, so the
// queue's engine thread does its protocol work only when its RX ring has
// room, copies the datagrams in and releases the frames at once, and
// drains its TX ring onto the same queue. All of it is charged to the
// application by that queue's scheduler.
#pragma once

#include <array>
#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "runtime/interface_runtime.h"
#include "sched/runtime/scheduler.h"
#include "service/daemon/backend.h"

namespace lrp::service {

struct RuntimeBackendConfig {
  std::vector<std::string> interfaces;
  std::vector<int> cpus;  // CPUs the engine threads may use (empty: the process's)
  sched::Mode mode = sched::Mode::Adaptive;
  XdpMode xdp_mode = XdpMode::Native;
};

class RuntimeBackend : public ServiceBackend {
 public:
  // Opens a runtime on every interface (EPERM without privileges, ENODEV
  // unknown interface, and whatever the interface reports).
  static Result<std::unique_ptr<RuntimeBackend>> open(const RuntimeBackendConfig& config);
  ~RuntimeBackend() override;

  std::vector<ServedInterface> interfaces() const override;
  Status start() override;
  void stop() override;
  Result<BackendApp> add_app(const BackendAppSpec& spec, AppPort& port) override;
  Status remove_app(BackendApp app) override;
  void flush_transmit(BackendApp app) override;
  Result<BackendSocket> add_socket(BackendApp app, const BackendSocketSpec& spec) override;
  Status remove_socket(BackendApp app, BackendSocket socket) override;
  Status set_weight(BackendApp app, uint32_t weight) override;
  Status join_group(BackendSocket socket, const IpAddress& group) override;
  Status leave_group(BackendSocket socket, const IpAddress& group) override;
  std::vector<EngineStatus> engine_status() const override;
  BackendAppCounters app_counters(BackendApp app) const override;
  BackendSocketCounters socket_counters(BackendSocket socket) const override;

  // Each queue's engine and scheduler, for the metrics endpoint.
  std::vector<exporters::MetricsSource> metrics_sources();

 private:
  struct Served;
  struct App;
  class QueueChannel;
  class Sender;
  RuntimeBackend() = default;
  Served* served_of(BackendSocket socket) const;
  App* app(BackendApp id) const;

  RuntimeBackendConfig config_;
  std::vector<std::unique_ptr<Served>> served_;
  mutable std::mutex mutex_;  // apps_
  std::vector<std::unique_ptr<App>> apps_;
  BackendApp next_app_ = 1;
};

}  // namespace lrp::service
