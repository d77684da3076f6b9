// A ServiceBackend without a data path, for testing lrpd's control plane:
// it records what the control plane asked for, and lets a test deliver
// datagrams into an application's port and drain its transmit ring as the
// engines would.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <vector>

#include "service/daemon/backend.h"

namespace lrp::service::test {

struct SentDatagram {
  BackendSocket socket = 0;
  Endpoint to;
  std::vector<uint8_t> payload;
  std::optional<IpAddress> from;
};

class FakeBackend : public ServiceBackend, public TxOut {
 public:
  // One interface, "fake0", with 198.18.0.1, 2001:2::1 and 127.0.0.1.
  FakeBackend();
  explicit FakeBackend(std::vector<ServedInterface> interfaces);

  std::vector<ServedInterface> interfaces() const override;
  Status start() override { return {}; }
  void stop() override {}
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

  // TxOut
  Status send(BackendSocket socket, const Endpoint& to, std::span<const uint8_t> payload,
              const IpAddress* from) override;
  bool is_local(uint32_t iface, const IpAddress& addr) override;
  uint32_t route(const IpAddress& dst) override;

  // --- for tests ---
  struct AppRecord {
    BackendAppSpec spec;
    AppPort* port = nullptr;
  };
  struct SocketRecord {
    BackendApp app = 0;
    BackendSocketSpec spec;
  };
  // Delivers one datagram to the socket(s) with this tag, as an engine
  // would: only when the port has room. Returns whether it was taken.
  bool deliver(uint32_t tag, const Endpoint& from, const Endpoint& to,
               std::span<const uint8_t> payload);
  // Drains every application's TX ring.
  size_t drain_all();
  std::vector<SentDatagram> sent() const;
  size_t app_count() const;
  size_t socket_count() const;
  std::vector<SocketRecord> sockets() const;
  std::optional<AppRecord> app(BackendApp id) const;
  std::vector<AppRecord> apps() const;
  int group_refs(uint32_t iface, const IpAddress& group) const;

 private:
  std::vector<ServedInterface> interfaces_;
  std::mutex port_mutex_;  // held while a port is in use: remove_app waits for it
  mutable std::mutex mutex_;
  BackendApp next_app_ = 1;
  BackendSocket next_socket_ = 1;
  std::map<BackendApp, AppRecord> apps_;
  std::map<BackendSocket, SocketRecord> sockets_;
  std::map<std::pair<uint32_t, IpAddress>, int> groups_;
  std::vector<SentDatagram> sent_;
};

}  // namespace lrp::service::test
