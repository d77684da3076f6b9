// The lrp XDP program on one interface: loading, attaching (and replacing a
// stale copy a crashed process left behind), and its maps: sockets per
// (queue, slot), flows and reuseport groups, shed flags, the interface's
// MAC, VLAN, addresses and joined multicast groups, and the counters.
#pragma once

#include <array>
#include <bitset>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "bpf/lrp_shared.h"
#include "lrp/ip_address.h"
#include "lrp/netdev.h"
#include "lrp/result.h"

struct lrp_xdp_bpf;

namespace lrp {

struct AttachAttempt;

enum class XdpMode { Native, Generic };
const char* to_string(XdpMode mode);

// Interface-wide index of one lrp socket (0..LRP_MAX_SLOTS-1): the same slot
// on every served queue.
using SlotId = uint16_t;

// What the receive side built on the program can take, checked at attach so
// that a misfit is refused with a sentence instead of silent drops.
struct AttachLimits {
  // The interface MTU (0: read it from the interface).
  uint32_t mtu = 0;
  // The largest frame the receive side takes in one UMEM frame: the frame
  // size less its headroom (XDP_PACKET_HEADROOM, 256, in copy mode). 0: no
  // limit is checked.
  uint32_t max_frame = 0;
  // The receive side takes larger frames over several UMEM frames (its
  // AF_XDP sockets bind with XDP_USE_SG); max_frame then limits nothing.
  bool multi_buffer = false;
};

// Values of local_addrs (bpf/lrp_shared.h).
struct AddressFlags {
  static constexpr uint32_t Local = LRP_ADDR_LOCAL;
  static constexpr uint32_t Broadcast = LRP_ADDR_BROADCAST;
};

struct SlotCounters {
  std::array<uint64_t, LRP_SLOT_COUNTER_MAX> value{};
  uint64_t at(lrp_slot_counter c) const { return value[c]; }
};
struct GlobalCounters {
  std::array<uint64_t, LRP_G_COUNTER_MAX> value{};
  uint64_t at(lrp_global_counter c) const { return value[c]; }
};

// Every method may be called from any thread.
class XdpProgram {
 public:
  ~XdpProgram();
  XdpProgram(const XdpProgram&) = delete;
  XdpProgram& operator=(const XdpProgram&) = delete;

  // Loads the program and attaches it to ifindex through a BPF link, so the
  // kernel detaches it when this process dies, however it dies. The program
  // takes nothing until set_interface() and add_address() say what is
  // addressed to this host. It declares multi-buffer support (xdp.frags), so
  // drivers attach it at MTUs above a page. Refused with EMSGSIZE when the
  // MTU's frames exceed limits.max_frame without limits.multi_buffer; every
  // failure says what was tried and what the user can do
  // (lrp/xdp_attach_error.h).
  static Result<std::unique_ptr<XdpProgram>> attach(int ifindex, const std::string& ifname,
                                                    XdpMode mode, const AttachLimits& limits = {});

  int ifindex() const { return ifindex_; }
  const std::string& ifname() const { return ifname_; }
  XdpMode mode() const { return mode_; }
  uint32_t program_id() const { return prog_id_; }

  // ---- sockets and flows ----

  // The AF_XDP socket bound on `queue` for `slot`: XSKMAP key
  // queue * LRP_MAX_SLOTS + slot. EINVAL for a queue or slot outside the map.
  Status set_socket(uint32_t queue, SlotId slot, int xsk_fd);
  Status clear_socket(uint32_t queue, SlotId slot);
  // EADDRINUSE when the key is present (as a flow or a reuseport group).
  Status add_flow(const lrp_flow_key& key, SlotId slot);
  // Removes a flow, or a whole reuseport group with its flow.
  Status remove_flow(const lrp_flow_key& key);
  // SO_REUSEPORT: the first member makes the group and its flow, later ones
  // join it; XDP spreads the group's traffic by remote address and port. A
  // connected flow (more specific) still wins. EADDRINUSE when the key is a
  // plain flow, EEXIST when the slot is a member, ENOSPC when the group has
  // LRP_REUSEPORT_MAX members or no group is free.
  Status add_reuseport_member(const lrp_flow_key& key, SlotId slot);
  // The last member's departure removes the flow and frees the group.
  // ENOENT when the key is no group or the slot no member.
  Status remove_reuseport_member(const lrp_flow_key& key, SlotId slot);
  // The group's members in the order XDP indexes them (empty: no group).
  Result<std::vector<SlotId>> reuseport_members(const lrp_flow_key& key) const;
  Status set_shed(SlotId slot, bool shed);

  // ---- what is addressed to this host ----

  // The interface's MAC and the VLAN it serves: 0 for untagged frames, or
  // the ID of the tag (in the frame) of a VLAN served through its parent.
  Status set_interface(const MacAddress& mac, uint16_t vlan);
  // flags: AddressFlags::Local and/or Broadcast; replaces earlier flags.
  Status add_address(const IpAddress& address, uint32_t flags);
  Status remove_address(const IpAddress& address);  // ENOENT when absent
  Result<std::vector<std::pair<IpAddress, uint32_t>>> addresses() const;
  // Multicast groups, reference-counted: the group stays joined until every
  // join has been matched by a leave. EINVAL for a non-multicast address.
  Status join_group(const IpAddress& group);
  Status leave_group(const IpAddress& group);                          // ENOENT when not joined
  Result<std::vector<std::pair<IpAddress, uint32_t>>> groups() const;  // group, references

  // ---- counters ----

  Result<SlotCounters> slot_counters(SlotId slot) const;
  Result<GlobalCounters> global_counters() const;

  // Name of the program's function, used to recognise a stale copy.
  static constexpr const char* kProgramName = "lrp_xdp";

 private:
  XdpProgram() = default;
  Status detach_stale(AttachAttempt* attempt);
  std::string where() const { return "on " + ifname_; }
  Status write_group(uint32_t index, const lrp_reuseport_group& group, const std::string& what);
  Result<lrp_reuseport_group> read_group(uint32_t index, const std::string& what) const;

  lrp_xdp_bpf* skel_ = nullptr;
  int link_fd_ = -1;
  int ifindex_ = 0;
  std::string ifname_;
  XdpMode mode_ = XdpMode::Native;
  uint32_t prog_id_ = 0;
  // Read-modify-write of flows, groups and group references.
  mutable std::mutex mutex_;
  std::bitset<LRP_MAX_REUSEPORT_GROUPS> groups_in_use_;
};

}  // namespace lrp
