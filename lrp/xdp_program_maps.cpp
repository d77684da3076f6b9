// XdpProgram's maps: what user space writes for the XDP program to read, and
// the counters it reads back.
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "lrp/xdp_program.h"
#include "lrp_xdp.skel.h"

namespace lrp {

namespace {

std::string queue_slot(uint32_t queue, SlotId slot) {
  return "queue " + std::to_string(queue) + " slot " + std::to_string(slot);
}

Result<uint32_t> xsk_key(uint32_t queue, SlotId slot, const std::string& what) {
  if (queue >= LRP_MAX_QUEUES)
    return make_error(
        EINVAL, what + ": lrp serves queues 0.." + std::to_string(LRP_MAX_QUEUES - 1) + " only");
  if (slot >= LRP_MAX_SLOTS)
    return make_error(EINVAL, what + ": slots are 0.." + std::to_string(LRP_MAX_SLOTS - 1));
  return queue * LRP_MAX_SLOTS + slot;
}

std::string port_of(const lrp_flow_key& key) {
  return "port " + std::to_string(ntohs(key.local_port));
}

lrp_addr_key addr_key(const IpAddress& a) {
  lrp_addr_key key;
  std::memcpy(key.addr, a.bytes().data(), sizeof(key.addr));
  return key;
}

bool is_multicast(const IpAddress& a) {
  return a.is_v4() ? (a.v4_bytes()[0] & 0xf0) == 0xe0 : a.bytes()[0] == 0xff;
}

// Every entry of a hash map keyed by lrp_addr_key with __u32 values.
Result<std::vector<std::pair<IpAddress, uint32_t>>> read_addr_map(int fd, const std::string& what) {
  std::vector<std::pair<IpAddress, uint32_t>> out;
  lrp_addr_key key{};
  lrp_addr_key next{};
  const void* previous = nullptr;
  for (;;) {
    if (bpf_map_get_next_key(fd, previous, &next) != 0) {
      if (errno == ENOENT) break;
      return errno_error(what);
    }
    key = next;
    previous = &key;
    uint32_t value = 0;
    // An entry deleted since get_next_key is simply not listed.
    if (bpf_map_lookup_elem(fd, &key, &value) != 0) continue;
    IpAddress::Bytes bytes;
    std::memcpy(bytes.data(), key.addr, bytes.size());
    out.emplace_back(IpAddress(bytes), value);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

// ---- sockets and flows ----

Status XdpProgram::set_socket(uint32_t queue, SlotId slot, int xsk_fd) {
  const std::string what = "put the AF_XDP socket of " + queue_slot(queue, slot) + " " + where();
  auto key = xsk_key(queue, slot, what);
  if (!key) return key.error();
  if (bpf_map_update_elem(bpf_map__fd(skel_->maps.xsks), &key.value(), &xsk_fd, BPF_ANY) != 0)
    return errno_error(what);
  return {};
}

Status XdpProgram::clear_socket(uint32_t queue, SlotId slot) {
  const std::string what = "clear the AF_XDP socket of " + queue_slot(queue, slot) + " " + where();
  auto key = xsk_key(queue, slot, what);
  if (!key) return key.error();
  if (bpf_map_delete_elem(bpf_map__fd(skel_->maps.xsks), &key.value()) != 0 && errno != ENOENT)
    return errno_error(what);
  return {};
}

Status XdpProgram::add_flow(const lrp_flow_key& key, SlotId slot) {
  lrp_flow_value value{.target = slot, .kind = LRP_TARGET_SLOT};
  if (bpf_map_update_elem(bpf_map__fd(skel_->maps.flows), &key, &value, BPF_NOEXIST) != 0) {
    if (errno == EEXIST)
      return make_error(EADDRINUSE, port_of(key) + " already bound by lrp " + where());
    return errno_error("add flow for " + port_of(key) + " " + where());
  }
  return {};
}

Status XdpProgram::remove_flow(const lrp_flow_key& key) {
  std::lock_guard lock(mutex_);
  const int fd = bpf_map__fd(skel_->maps.flows);
  const std::string what = "remove flow for " + port_of(key) + " " + where();
  lrp_flow_value value{};
  if (bpf_map_lookup_elem(fd, &key, &value) != 0) {
    if (errno == ENOENT) return {};
    return errno_error(what);
  }
  if (bpf_map_delete_elem(fd, &key) != 0 && errno != ENOENT) return errno_error(what);
  if (value.kind == LRP_TARGET_GROUP && value.target < LRP_MAX_REUSEPORT_GROUPS) {
    LRP_TRY(write_group(value.target, lrp_reuseport_group{}, what));
    groups_in_use_.reset(value.target);
  }
  return {};
}

Result<lrp_reuseport_group> XdpProgram::read_group(uint32_t index, const std::string& what) const {
  lrp_reuseport_group group{};
  if (bpf_map_lookup_elem(bpf_map__fd(skel_->maps.reuseport_groups), &index, &group) != 0)
    return errno_error(what);
  return group;
}

Status XdpProgram::write_group(uint32_t index, const lrp_reuseport_group& group,
                               const std::string& what) {
  if (bpf_map_update_elem(bpf_map__fd(skel_->maps.reuseport_groups), &index, &group, BPF_ANY) != 0)
    return errno_error(what);
  return {};
}

// XDP reads a group while it changes. Each write below changes one value
// (count, or one member: both below 256, so only their low byte differs), so
// every state XDP can see names only members that are still open: a new
// member is written past count before count grows, and a leaving member is
// overwritten by the last one before count shrinks. (The socket layer closes
// a member's sockets only after it has left.)
Status XdpProgram::add_reuseport_member(const lrp_flow_key& key, SlotId slot) {
  std::lock_guard lock(mutex_);
  const std::string what = "add slot " + std::to_string(slot) + " to the reuseport group of " +
                           port_of(key) + " " + where();
  if (slot >= LRP_MAX_SLOTS)
    return make_error(EINVAL, what + ": slots are 0.." + std::to_string(LRP_MAX_SLOTS - 1));
  const int flows = bpf_map__fd(skel_->maps.flows);
  lrp_flow_value value{};
  if (bpf_map_lookup_elem(flows, &key, &value) == 0) {
    if (value.kind != LRP_TARGET_GROUP)
      return make_error(EADDRINUSE, what + ": the port is bound by a socket without SO_REUSEPORT");
    auto group = read_group(value.target, what);
    if (!group) return group.error();
    lrp_reuseport_group g = group.value();
    for (uint32_t i = 0; i < g.count; ++i)
      if (g.member[i] == slot) return make_error(EEXIST, what + ": already a member");
    if (g.count >= LRP_REUSEPORT_MAX)
      return make_error(ENOSPC, what + ": the group has " + std::to_string(LRP_REUSEPORT_MAX) +
                                    " members, the most it can have");
    g.member[g.count] = slot;
    LRP_TRY(write_group(value.target, g, what));
    ++g.count;
    return write_group(value.target, g, what);
  }
  if (errno != ENOENT) return errno_error(what);

  size_t index = 0;
  while (index < groups_in_use_.size() && groups_in_use_.test(index)) ++index;
  if (index == groups_in_use_.size())
    return make_error(ENOSPC, what + ": all " + std::to_string(LRP_MAX_REUSEPORT_GROUPS) +
                                  " reuseport groups are in use");
  lrp_reuseport_group g{};
  g.count = 1;
  g.member[0] = slot;
  LRP_TRY(write_group(static_cast<uint32_t>(index), g, what));
  value = lrp_flow_value{.target = static_cast<uint32_t>(index), .kind = LRP_TARGET_GROUP};
  if (bpf_map_update_elem(flows, &key, &value, BPF_NOEXIST) != 0) {
    const int err = errno;
    (void)write_group(static_cast<uint32_t>(index), lrp_reuseport_group{}, what);
    return make_error(err, what);
  }
  groups_in_use_.set(index);
  return {};
}

Status XdpProgram::remove_reuseport_member(const lrp_flow_key& key, SlotId slot) {
  std::lock_guard lock(mutex_);
  const std::string what = "remove slot " + std::to_string(slot) + " from the reuseport group of " +
                           port_of(key) + " " + where();
  const int flows = bpf_map__fd(skel_->maps.flows);
  lrp_flow_value value{};
  if (bpf_map_lookup_elem(flows, &key, &value) != 0) {
    if (errno == ENOENT) return make_error(ENOENT, what + ": no such group");
    return errno_error(what);
  }
  if (value.kind != LRP_TARGET_GROUP) return make_error(ENOENT, what + ": not a reuseport group");
  auto group = read_group(value.target, what);
  if (!group) return group.error();
  lrp_reuseport_group g = group.value();
  uint32_t at = 0;
  while (at < g.count && g.member[at] != slot) ++at;
  if (at == g.count) return make_error(ENOENT, what + ": not a member");
  if (g.count == 1) {
    if (bpf_map_delete_elem(flows, &key) != 0 && errno != ENOENT) return errno_error(what);
    LRP_TRY(write_group(value.target, lrp_reuseport_group{}, what));
    groups_in_use_.reset(value.target);
    return {};
  }
  g.member[at] = g.member[g.count - 1];
  LRP_TRY(write_group(value.target, g, what));
  --g.count;
  return write_group(value.target, g, what);
}

Result<std::vector<SlotId>> XdpProgram::reuseport_members(const lrp_flow_key& key) const {
  std::lock_guard lock(mutex_);
  const std::string what = "read the reuseport group of " + port_of(key) + " " + where();
  lrp_flow_value value{};
  if (bpf_map_lookup_elem(bpf_map__fd(skel_->maps.flows), &key, &value) != 0) {
    if (errno == ENOENT) return std::vector<SlotId>{};
    return errno_error(what);
  }
  if (value.kind != LRP_TARGET_GROUP) return std::vector<SlotId>{};
  auto group = read_group(value.target, what);
  if (!group) return group.error();
  std::vector<SlotId> members;
  for (uint32_t i = 0; i < group->count && i < LRP_REUSEPORT_MAX; ++i)
    members.push_back(static_cast<SlotId>(group->member[i]));
  return members;
}

Status XdpProgram::set_shed(SlotId slot, bool shed) {
  const uint32_t key = slot;
  lrp_slot_control control{.shed = shed ? 1u : 0u, .pad = 0};
  if (bpf_map_update_elem(bpf_map__fd(skel_->maps.slot_control), &key, &control, BPF_ANY) != 0)
    return errno_error("set shed flag of slot " + std::to_string(slot) + " " + where());
  return {};
}

// ---- what is addressed to this host ----

Status XdpProgram::set_interface(const MacAddress& mac, uint16_t vlan) {
  const std::string what = "set the MAC and VLAN lrp serves " + where();
  if (vlan > 4094) return make_error(EINVAL, what + ": VLAN IDs are 1..4094 (0: untagged)");
  lrp_iface_config config{};
  std::memcpy(config.mac, mac.data(), sizeof(config.mac));
  config.vlan = vlan;
  const uint32_t zero = 0;
  if (bpf_map_update_elem(bpf_map__fd(skel_->maps.iface_config), &zero, &config, BPF_ANY) != 0)
    return errno_error(what);
  return {};
}

Status XdpProgram::add_address(const IpAddress& address, uint32_t flags) {
  const std::string what = "add address " + address.to_string() + " " + where();
  if (flags == 0 || (flags & ~(AddressFlags::Local | AddressFlags::Broadcast)) != 0)
    return make_error(EINVAL, what + ": flags must be Local and/or Broadcast");
  const lrp_addr_key key = addr_key(address);
  if (bpf_map_update_elem(bpf_map__fd(skel_->maps.local_addrs), &key, &flags, BPF_ANY) != 0) {
    if (errno == E2BIG || errno == ENOSPC)
      return make_error(ENOSPC, what + ": lrp keeps at most " + std::to_string(LRP_MAX_ADDRS) +
                                    " addresses per interface");
    return errno_error(what);
  }
  return {};
}

Status XdpProgram::remove_address(const IpAddress& address) {
  const lrp_addr_key key = addr_key(address);
  if (bpf_map_delete_elem(bpf_map__fd(skel_->maps.local_addrs), &key) != 0)
    return errno_error("remove address " + address.to_string() + " " + where());
  return {};
}

Result<std::vector<std::pair<IpAddress, uint32_t>>> XdpProgram::addresses() const {
  return read_addr_map(bpf_map__fd(skel_->maps.local_addrs), "list the addresses " + where());
}

Status XdpProgram::join_group(const IpAddress& group) {
  std::lock_guard lock(mutex_);
  const std::string what = "join multicast group " + group.to_string() + " " + where();
  if (!is_multicast(group)) return make_error(EINVAL, what + ": not a multicast address");
  const int fd = bpf_map__fd(skel_->maps.mcast_groups);
  const lrp_addr_key key = addr_key(group);
  uint32_t references = 0;
  if (bpf_map_lookup_elem(fd, &key, &references) != 0 && errno != ENOENT) return errno_error(what);
  ++references;
  if (bpf_map_update_elem(fd, &key, &references, BPF_ANY) != 0) {
    if (errno == E2BIG || errno == ENOSPC)
      return make_error(ENOSPC, what + ": lrp keeps at most " + std::to_string(LRP_MAX_GROUPS) +
                                    " groups per interface");
    return errno_error(what);
  }
  return {};
}

Status XdpProgram::leave_group(const IpAddress& group) {
  std::lock_guard lock(mutex_);
  const std::string what = "leave multicast group " + group.to_string() + " " + where();
  const int fd = bpf_map__fd(skel_->maps.mcast_groups);
  const lrp_addr_key key = addr_key(group);
  uint32_t references = 0;
  if (bpf_map_lookup_elem(fd, &key, &references) != 0) {
    if (errno == ENOENT) return make_error(ENOENT, what + ": not joined");
    return errno_error(what);
  }
  if (references <= 1) {
    if (bpf_map_delete_elem(fd, &key) != 0) return errno_error(what);
    return {};
  }
  --references;
  if (bpf_map_update_elem(fd, &key, &references, BPF_EXIST) != 0) return errno_error(what);
  return {};
}

Result<std::vector<std::pair<IpAddress, uint32_t>>> XdpProgram::groups() const {
  return read_addr_map(bpf_map__fd(skel_->maps.mcast_groups),
                       "list the multicast groups " + where());
}

// ---- counters ----

template <class Out, size_t N>
static Status sum_percpu(int map_fd, uint32_t key, size_t values_per_cpu, Out* out) {
  const int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) return make_error(-cpus, "count possible CPUs");
  std::vector<uint64_t> raw(static_cast<size_t>(cpus) * values_per_cpu);
  if (bpf_map_lookup_elem(map_fd, &key, raw.data()) != 0)
    return errno_error("read per-CPU counters");
  for (int cpu = 0; cpu < cpus; ++cpu)
    for (size_t i = 0; i < values_per_cpu && i < N; ++i)
      out->value[i] += raw[static_cast<size_t>(cpu) * values_per_cpu + i];
  return {};
}

Result<SlotCounters> XdpProgram::slot_counters(SlotId slot) const {
  SlotCounters c;
  LRP_TRY((sum_percpu<SlotCounters, LRP_SLOT_COUNTER_MAX>(bpf_map__fd(skel_->maps.slot_counters),
                                                          slot, LRP_SLOT_COUNTER_MAX, &c)));
  return c;
}

Result<GlobalCounters> XdpProgram::global_counters() const {
  GlobalCounters c;
  const int fd = bpf_map__fd(skel_->maps.global_counters);
  const int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) return make_error(-cpus, "count possible CPUs");
  std::vector<uint64_t> raw(static_cast<size_t>(cpus));
  for (uint32_t key = 0; key < LRP_G_COUNTER_MAX; ++key) {
    if (bpf_map_lookup_elem(fd, &key, raw.data()) != 0)
      return errno_error("read global XDP counters " + where());
    for (uint64_t v : raw) c.value[key] += v;
  }
  return c;
}

}  // namespace lrp
