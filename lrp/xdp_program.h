// The lrp XDP program on one interface: loading, attaching (and replacing a
// stale copy a crashed process left behind), and its maps.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>

#include "bpf/lrp_shared.h"
#include "lrp/ip_address.h"
#include "lrp/result.h"

struct lrp_xdp_bpf;

namespace lrp {

enum class XdpMode { Native, Generic };
const char* to_string(XdpMode mode);

struct SlotCounters {
  std::array<uint64_t, LRP_SLOT_COUNTER_MAX> value{};
  uint64_t at(lrp_slot_counter c) const { return value[c]; }
};
struct GlobalCounters {
  std::array<uint64_t, LRP_G_COUNTER_MAX> value{};
  uint64_t at(lrp_global_counter c) const { return value[c]; }
};

class XdpProgram {
 public:
  ~XdpProgram();
  XdpProgram(const XdpProgram&) = delete;
  XdpProgram& operator=(const XdpProgram&) = delete;

  // Loads the program and attaches it to ifindex through a BPF link, so the
  // kernel detaches it when this process dies, however it dies.
  static Result<std::unique_ptr<XdpProgram>> attach(int ifindex, const std::string& ifname,
                                                    XdpMode mode);

  int ifindex() const { return ifindex_; }
  XdpMode mode() const { return mode_; }
  uint32_t program_id() const { return prog_id_; }

  Status set_socket(uint32_t queue, uint32_t slot, int xsk_fd);
  Status clear_socket(uint32_t queue, uint32_t slot);
  Status add_flow(const lrp_flow_key& key, uint32_t slot);
  Status remove_flow(const lrp_flow_key& key);
  Status add_reuseport_member(const lrp_flow_key& key, uint32_t slot);
  Status remove_reuseport_member(const lrp_flow_key& key, uint32_t slot);
  Status join_group(const IpAddress& group);
  Status leave_group(const IpAddress& group);
  Status set_shed(uint32_t slot, bool shed);
  Result<SlotCounters> slot_counters(uint32_t slot) const;
  Result<GlobalCounters> global_counters() const;

  // Name of the program's function, used to recognise a stale copy.
  static constexpr const char* kProgramName = "lrp_xdp";

 private:
  XdpProgram() = default;
  Status detach_stale();
  std::string where() const { return "on " + ifname_; }

  lrp_xdp_bpf* skel_ = nullptr;
  int link_fd_ = -1;
  int ifindex_ = 0;
  std::string ifname_;
  XdpMode mode_ = XdpMode::Native;
  uint32_t prog_id_ = 0;
};

}  // namespace lrp
