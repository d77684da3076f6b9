// lrpd's side of one application's shared memory: its region, rings and
// doorbell. The engines deliver into it and drain its transmit through it;
// the control plane tells it which sockets the application may send from.
// Nothing read from the region is trusted (see service/shm/ring.h): lengths
// are checked against lrpd's own geometry, sockets against its own table.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <shared_mutex>
#include <vector>

#include "lrp/ip_address.h"
#include "lrp/result.h"
#include "service/daemon/backend.h"
#include "service/shm/doorbell.h"
#include "service/shm/region.h"

namespace lrp::service {

struct TxMeta;

// What one lrp socket of the application may send from, and through which
// backend sockets.
struct TxBinding {
  struct Handle {
    uint32_t iface = 0;
    uint8_t family = 4;
    BackendSocket socket = 0;
  };
  uint32_t socket_id = 0;
  IpAddress local;  // any address of the family: wildcard
  uint16_t port = 0;
  uint8_t family = 4;
  bool dual_stack = false;  // an IPv6 wildcard that also serves IPv4
  std::vector<Handle> handles;
};

struct AppChannelCounters {
  std::atomic<uint64_t> delivered{0};
  std::atomic<uint64_t> ring_full{0};
  std::atomic<uint64_t> tx_sent{0};
  std::atomic<uint64_t> tx_rejected{0};
  std::atomic<uint64_t> tx_dropped{0};
};

class AppChannel : public AppPort {
 public:
  static Result<std::unique_ptr<AppChannel>> create(uint32_t app_id, const RegionGeometry& geometry,
                                                    uint64_t daemon_epoch, uint32_t queue_bound);
  ~AppChannel() override;

  // --- control plane ---
  int region_fd() const { return region_->fd(); }
  uint64_t region_size() const { return region_->geometry().size; }
  int client_doorbell_fd() const { return doorbell_.client.get(); }
  const RegionGeometry& geometry() const { return region_->geometry(); }
  void set_binding(const TxBinding& binding);
  void remove_binding(uint32_t socket_id);
  void set_queue_bound(uint32_t bound) { queue_bound_.store(bound, std::memory_order_relaxed); }
  uint32_t queue_bound() const { return queue_bound_.load(std::memory_order_relaxed); }
  // The application is no longer served: tells its processes and wakes them.
  void detach(RegionState state);
  // Releases ring entries a closed connection's process held mid-claim.
  uint32_t reclaim(uint32_t session_id);
  void heartbeat(uint64_t monotonic_ns);
  uint32_t rx_depth() const { return rx_->occupancy(); }
  const AppChannelCounters& counters() const { return counters_; }

  // --- AppPort, from engine threads ---
  size_t room() override;
  size_t deliver(std::span<const Delivery> batch) override;
  void wake_if_waiting() override;
  size_t drain_tx(TxOut& out, size_t budget) override;
  bool transmit_pending() override;
  int wake_fd() const override { return doorbell_.daemon.get(); }
  void drain_wake() override;

 private:
  AppChannel() = default;
  // Checks one transmit entry (copied out of shared memory) and sends it.
  void transmit(TxOut& out, const TxMeta& meta, const uint8_t* payload);
  void mirror_counters();
  // The application cleared a flag lrpd raised: it rang, drain the doorbell.
  void settle(std::atomic<bool>& armed, bool raised);

  std::unique_ptr<Region> region_;
  DoorbellPair doorbell_;
  // The rings were built from lrpd's own geometry, never read back from
  // the region.
  Ring* rx_ = nullptr;
  Ring* tx_ = nullptr;
  uint32_t slot_payload_ = 0;
  std::atomic<uint32_t> queue_bound_{0};
  mutable std::shared_mutex bindings_mutex_;  // engines read, the control plane writes
  std::vector<TxBinding> bindings_;
  AppChannelCounters counters_;
  std::atomic<bool> tx_armed_{false};  // lrpd raised the TX ring's consumer_waiting
  std::atomic<bool> rx_armed_{false};  // lrpd raised the RX ring's producer_waiting
};

}  // namespace lrp::service
