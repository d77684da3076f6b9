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
                                                       XdpMode mode, const AttachLimits& limits) {
  (void)limits;
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

}  // namespace lrp
