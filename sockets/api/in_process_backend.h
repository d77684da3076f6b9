// The native API on the runtime of this process: zero-copy, for one trusted
// process that has the privileges for XDP and AF_XDP.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "runtime/interface_runtime.h"
#include "sockets/api/backend.h"

namespace lrp::exporters {
class MetricsServer;
}

namespace lrp::sockets {

struct StackConfig;

class InProcessBackend : public Backend {
 public:
  explicit InProcessBackend(std::unique_ptr<runtime::InterfaceRuntime> runtime);
  ~InProcessBackend() override;

  const char* kind() const override { return "in-process"; }
  Result<BackendApp> add_app(const ApplicationConfig& config) override;
  Status remove_app(BackendApp app) override;
  Result<SlotId> add_socket(BackendApp app, const BindSpec& bind, int kernel_fd) override;
  Status remove_socket(BackendApp app, SlotId slot) override;
  Status rebind_socket(BackendApp app, SlotId slot, const BindSpec& bind, int kernel_fd) override;
  size_t receive(BackendApp app, std::span<Datagram> out, int timeout_ms) override;
  void done(std::span<const Datagram> datagrams) override;
  int ready_fd(BackendApp app) const override;
  size_t queued(BackendApp app) const override;
  size_t pending(BackendApp app, SlotId slot) const override;
  bool maybe_pending(BackendApp app) override;
  Status send(SlotId slot, const Endpoint& to, std::span<const uint8_t> payload,
              const IpAddress* from, int reply_queue, bool kick_when_full) override;
  Result<size_t> send_batch(SlotId slot, std::span<const OutDatagram> batch, int reply_queue,
                            Kick kick) override;
  Status flush(SlotId slot) override;
  SocketStats socket_stats(SlotId slot) const override;
  AppStats app_stats(BackendApp app) const override;
  Result<std::string> start_metrics(const std::string& host_port) override;
  std::string metrics_url() const override;

  runtime::InterfaceRuntime& runtime() { return *runtime_; }

  // Opens the runtime on config.ifname (config.threading becomes what the
  // scheduler chose: eager runs dedicated).
  static Result<std::unique_ptr<Backend>> open(StackConfig& config);

 private:
  std::unique_ptr<runtime::InterfaceRuntime> runtime_;
  mutable std::mutex metrics_mutex_;
  std::unique_ptr<exporters::MetricsServer> metrics_;  // goes before the runtime it reads
};

}  // namespace lrp::sockets
