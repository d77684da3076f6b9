// The native API on the runtime of this process: zero-copy, for one trusted
// process that has the privileges for XDP and AF_XDP.
#pragma once

#include <memory>

#include "runtime/interface_runtime.h"
#include "sockets/api/backend.h"

namespace lrp::sockets {

class InProcessBackend : public Backend {
 public:
  explicit InProcessBackend(std::unique_ptr<runtime::InterfaceRuntime> runtime)
      : runtime_(std::move(runtime)) {}
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
  bool maybe_pending(BackendApp app) override;
  Status send(SlotId slot, const Endpoint& to, std::span<const uint8_t> payload,
              const IpAddress* from, int reply_queue, bool kick_when_full) override;
  Result<size_t> send_batch(SlotId slot, std::span<const OutDatagram> batch, int reply_queue,
                            Kick kick) override;
  Status flush(SlotId slot) override;
  SocketStats socket_stats(SlotId slot) const override;
  AppStats app_stats(BackendApp app) const override;

  runtime::InterfaceRuntime& runtime() { return *runtime_; }

 private:
  std::unique_ptr<runtime::InterfaceRuntime> runtime_;
};

}  // namespace lrp::sockets
