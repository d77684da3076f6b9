#include "lrp/xdp_program.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <vector>

#include "lrp_xdp.skel.h"

namespace lrp {

const char* to_string(XdpMode mode) {
  return mode == XdpMode::Native ? "native" : "generic";
}

static uint32_t xdp_flags(XdpMode mode) {
  return mode == XdpMode::Native ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE;
}

XdpProgram::~XdpProgram() {
  // Closing the last reference to the link detaches the program.
  if (link_fd_ >= 0) close(link_fd_);
  if (skel_ != nullptr) lrp_xdp_bpf__destroy(skel_);
}

// A program attached the old way (netlink, no link) outlives its process. If
// it is ours, remove it; if it is held by a live lrp process through a link,
// or is someone else's program, refuse rather than take the interface.
Status XdpProgram::detach_stale() {
  for (XdpMode mode : {XdpMode::Native, XdpMode::Generic}) {
    LIBBPF_OPTS(bpf_xdp_query_opts, query);
    int err = bpf_xdp_query(ifindex_, static_cast<int>(xdp_flags(mode)), &query);
    if (err != 0) return make_error(err, "query XDP program " + where());
    const uint32_t id = mode == XdpMode::Native ? query.drv_prog_id : query.skb_prog_id;
    if (id == 0) continue;
    int fd = bpf_prog_get_fd_by_id(id);
    if (fd < 0) return errno_error("open XDP program id " + std::to_string(id) + " " + where());
    bpf_prog_info info{};
    uint32_t len = sizeof(info);
    err = bpf_obj_get_info_by_fd(fd, &info, &len);
    close(fd);
    if (err != 0) return errno_error("read XDP program info " + where());
    if (std::string(info.name) != kProgramName)
      return make_error(EBUSY, "interface " + ifname_ + " already has a foreign XDP program '" +
                                   info.name + "' (id " + std::to_string(id) + ")");
    err = bpf_xdp_detach(ifindex_, xdp_flags(mode), nullptr);
    if (err == -EBUSY)
      return make_error(EADDRINUSE, "interface " + ifname_ +
                                        " is already served by another lrp process (program id " +
                                        std::to_string(id) + ")");
    if (err != 0) return make_error(err, "remove stale lrp program " + where());
    std::fprintf(stderr, "lrp: removed a stale lrp XDP program (id %u) %s\n", id, where().c_str());
  }
  return {};
}

Result<std::unique_ptr<XdpProgram>> XdpProgram::attach(int ifindex, const std::string& ifname,
                                                       XdpMode mode) {
  std::unique_ptr<XdpProgram> p(new XdpProgram());
  p->ifindex_ = ifindex;
  p->ifname_ = ifname;
  p->mode_ = mode;
  LRP_TRY(p->detach_stale());
  p->skel_ = lrp_xdp_bpf__open_and_load();
  if (p->skel_ == nullptr) return errno_error("load the lrp XDP program");
  if (mode == XdpMode::Generic)
    std::fprintf(stderr, "lrp: warning: generic (skb) XDP on %s: slower than native\n",
                 ifname.c_str());
  LIBBPF_OPTS(bpf_link_create_opts, opts, .flags = xdp_flags(mode));
  const int prog_fd = bpf_program__fd(p->skel_->progs.lrp_xdp);
  int link_fd = bpf_link_create(prog_fd, ifindex, BPF_XDP, &opts);
  if (link_fd < 0) {
    const int err = errno;
    if (err == EBUSY || err == EEXIST)
      return make_error(EADDRINUSE, "interface " + ifname +
                                        " is already served by another lrp process or program");
    return make_error(err, std::string("attach XDP in ") + to_string(mode) + " mode " + p->where());
  }
  p->link_fd_ = link_fd;
  bpf_prog_info info{};
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(prog_fd, &info, &len) == 0) p->prog_id_ = info.id;
  return p;
}

Status XdpProgram::set_socket(uint32_t queue, uint32_t slot, int xsk_fd) {
  int fd = bpf_map__fd(skel_->maps.xsks);
  slot = queue * LRP_MAX_SLOTS + slot;
  if (bpf_map_update_elem(fd, &slot, &xsk_fd, BPF_ANY) != 0)
    return errno_error("put socket into XSKMAP slot " + std::to_string(slot) + " " + where());
  return {};
}

Status XdpProgram::clear_socket(uint32_t queue, uint32_t slot) {
  int fd = bpf_map__fd(skel_->maps.xsks);
  slot = queue * LRP_MAX_SLOTS + slot;
  if (bpf_map_delete_elem(fd, &slot) != 0 && errno != ENOENT)
    return errno_error("clear XSKMAP slot " + std::to_string(slot) + " " + where());
  return {};
}

Status XdpProgram::add_flow(const lrp_flow_key& key, uint32_t slot) {
  lrp_flow_value value{.slot = slot, .pad = 0};
  if (bpf_map_update_elem(bpf_map__fd(skel_->maps.flows), &key, &value, BPF_NOEXIST) != 0) {
    if (errno == EEXIST)
      return make_error(EADDRINUSE, "port " + std::to_string(ntohs(key.local_port)) +
                                        " already bound by lrp " + where());
    return errno_error("add flow for port " + std::to_string(ntohs(key.local_port)) + " " +
                       where());
  }
  return {};
}

Status XdpProgram::remove_flow(const lrp_flow_key& key) {
  if (bpf_map_delete_elem(bpf_map__fd(skel_->maps.flows), &key) != 0 && errno != ENOENT)
    return errno_error("remove flow for port " + std::to_string(ntohs(key.local_port)) + " " +
                       where());
  return {};
}

Status XdpProgram::add_reuseport_member(const lrp_flow_key& key, uint32_t slot) {
  return add_flow(key, slot);
}
Status XdpProgram::remove_reuseport_member(const lrp_flow_key& key, uint32_t) {
  return remove_flow(key);
}
Status XdpProgram::join_group(const IpAddress& g) {
  return make_error(ENOTSUP, "join " + g.to_string());
}
Status XdpProgram::leave_group(const IpAddress& g) {
  return make_error(ENOTSUP, "leave " + g.to_string());
}

Status XdpProgram::set_shed(uint32_t slot, bool shed) {
  lrp_slot_control control{.shed = shed ? 1u : 0u, .pad = 0};
  if (bpf_map_update_elem(bpf_map__fd(skel_->maps.slot_control), &slot, &control, BPF_ANY) != 0)
    return errno_error("set shed flag of slot " + std::to_string(slot) + " " + where());
  return {};
}

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

Result<SlotCounters> XdpProgram::slot_counters(uint32_t slot) const {
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
