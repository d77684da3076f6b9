// The native API on lrpd: applications are lrpd applications (shared-memory
// rings, charged and isolated by the daemon), sockets are kernel sockets the
// daemon checked and serves. Payloads are copied through the rings; views
// stay valid until done() hands the ring entry back.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "service/client/client.h"
#include "sockets/api/backend.h"

namespace lrp::sockets {

class ServiceBackend : public Backend {
 public:
  // ENOENT or ECONNREFUSED (with how to start lrpd) when no lrpd listens.
  static Result<std::unique_ptr<ServiceBackend>> connect(const service::ClientConfig& config);

  const char* kind() const override { return "lrpd"; }
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
  Status flush(SlotId slot) override;
  SocketStats socket_stats(SlotId slot) const override;
  AppStats app_stats(BackendApp app) const override;
  Result<std::string> start_metrics(const std::string& host_port) override;
  std::string metrics_url() const override { return {}; }

  service::ServiceClient& client() { return *client_; }

 private:
  struct Socket {
    std::shared_ptr<service::ServiceSocket> service;
    BackendApp app = 0;
    std::atomic<uint64_t> delivered{0};
    std::atomic<uint64_t> sent{0};
    std::atomic<uint64_t> sent_bytes{0};
    std::atomic<uint64_t> send_would_block{0};
  };
  explicit ServiceBackend(std::shared_ptr<service::ServiceClient> client)
      : client_(std::move(client)) {}
  std::shared_ptr<service::ServiceApp> app_of(BackendApp app) const;
  std::shared_ptr<Socket> socket_of(SlotId slot) const;
  SlotId slot_of_handle(uint32_t handle) const;

  std::shared_ptr<service::ServiceClient> client_;
  mutable std::mutex mutex_;  // the tables (a datagram's path takes it briefly)
  std::vector<std::shared_ptr<service::ServiceApp>> apps_;
  std::vector<std::shared_ptr<Socket>> sockets_;  // index = SlotId
};

}  // namespace lrp::sockets
