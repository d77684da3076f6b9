// An interface served by lrp: its XDP program (one per interface) and one
// engine per served receive queue, each with its own UMEM. An lrp socket is
// one AF_XDP socket on every served queue, all at the same slot index, so a
// frame is redirected on whatever queue the device's RSS put it; the flow is
// steered to the slot only once every queue has its socket.
#pragma once

#include <array>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "lrp/bind_spec.h"
#include "lrp/engine.h"
#include "lrp/netdev.h"
#include "lrp/result.h"
#include "lrp/shed_votes.h"
#include "lrp/xdp_program.h"

namespace lrp {

class AddressWatcher;
struct AddressChange;

struct InterfaceConfig {
  std::string ifname;
  XdpMode xdp_mode = XdpMode::Native;
  // Queues to serve; empty: every active receive queue of the device.
  std::vector<uint32_t> queues;
  // Settings of each queue's engine (ifname and queue are filled in).
  EngineConfig engine;
};

class Interface {
 public:
  // Attaches the XDP program and opens an engine per served queue. Errors
  // name the interface and what the user can do (privileges, MTU, another
  // program on the interface).
  static Result<std::unique_ptr<Interface>> open(const InterfaceConfig& config);
  ~Interface();
  Interface(const Interface&) = delete;
  Interface& operator=(const Interface&) = delete;

  const std::string& name() const { return info_.name; }
  int ifindex() const { return info_.ifindex; }
  const InterfaceInfo& info() const { return info_; }
  XdpProgram& program() { return *program_; }
  size_t queue_count() const { return engines_.size(); }
  // The i-th served queue's engine (0 <= i < queue_count()).
  Engine& engine(size_t i) { return *engines_[i]; }
  const Engine& engine(size_t i) const { return *engines_[i]; }
  // The engine of device queue `queue`, or null when that queue is not served.
  Engine* engine_of_queue(uint32_t queue);

  // A socket on every served queue, then its flow. Errors: EINVAL port 0,
  // EADDRNOTAVAIL not an address of the interface, EADDRINUSE the flow is
  // bound in lrp already (unless both binds are reuseport ones: then the
  // socket joins the flow's group), EMFILE every slot in use.
  Result<SlotId> open_socket(const BindSpec& bind, const SocketOptions& options);
  // Removes the flow, then every queue's socket (returning their frames).
  Status close_socket(SlotId slot);
  // Moves the socket to another flow (connect, disconnect): the new flow is
  // added before the old one goes, so a failure leaves the socket as it was.
  Status rebind_socket(SlotId slot, const BindSpec& bind);
  // Multicast: frames to a joined group are redirected (refcounted per
  // interface, remembered per socket so closing leaves its groups).
  Status join_group(SlotId slot, const IpAddress& group);
  Status leave_group(SlotId slot, const IpAddress& group);

  bool slot_open(SlotId slot) const;
  BindSpec bind_of(SlotId slot) const;
  std::vector<SlotId> open_slots() const;
  // The interface's addresses as last seen (netlink keeps them in step).
  std::vector<IpAddress> addresses() const;

 private:
  struct SlotState {
    bool open = false;
    BindSpec bind;
    lrp_flow_key key{};
    std::vector<IpAddress> groups;
  };
  Interface() = default;
  Status steer(SlotId slot, const BindSpec& bind, lrp_flow_key* key);
  void unsteer(SlotId slot, const BindSpec& bind, const lrp_flow_key& key);
  void note_addresses(std::vector<IpAddress> addresses);
  // On the address watcher's thread: a Local entry added or removed.
  void note_change(const AddressChange& change);
  Result<BindSpec> checked(const BindSpec& bind) const;

  InterfaceInfo info_;
  InterfaceConfig config_;
  std::unique_ptr<XdpProgram> program_;
  std::unique_ptr<AddressWatcher> address_watcher_;
  std::unique_ptr<ShedVotes> shed_;
  std::vector<std::unique_ptr<Engine>> engines_;
  mutable std::mutex mutex_;  // slots_, addresses_
  std::array<SlotState, LRP_MAX_SLOTS> slots_;
  std::vector<IpAddress> addresses_;
};

}  // namespace lrp
