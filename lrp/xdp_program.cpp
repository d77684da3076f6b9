#include "lrp/xdp_program.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "lrp/xdp_attach_error.h"
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
Status XdpProgram::detach_stale(AttachAttempt* attempt) {
  for (XdpMode mode : {XdpMode::Native, XdpMode::Generic}) {
    LIBBPF_OPTS(bpf_xdp_query_opts, query);
    int err = bpf_xdp_query(ifindex_, static_cast<int>(xdp_flags(mode)), &query);
    if (err != 0) return make_error(err, "query the XDP program " + where());
    const uint32_t id = mode == XdpMode::Native ? query.drv_prog_id : query.skb_prog_id;
    if (id == 0) continue;
    const std::string program =
        "XDP program id " + std::to_string(id) + " in " + to_string(mode) + " mode";
    int fd = bpf_prog_get_fd_by_id(id);
    if (fd < 0) {
      const int e = errno;
      if (e == EPERM || e == EACCES)
        return make_error(e, "inspect the " + program + " already " + where() +
                                 ": not permitted (needs CAP_SYS_ADMIN). " + capabilities_remedy());
      return make_error(e, "inspect the " + program + " already " + where());
    }
    bpf_prog_info info{};
    uint32_t len = sizeof(info);
    err = bpf_obj_get_info_by_fd(fd, &info, &len);
    close(fd);
    if (err != 0) return errno_error("read the info of the " + program + " " + where());
    if (std::string(info.name) != kProgramName) {
      // Appended rather than concatenated: GCC 12 at -O3 reports a false
      // -Wrestrict on operator+(const char*, string&&).
      std::string other = "'";
      other.append(info.name).append("', ").append(program);
      attempt->other_program = std::move(other);
      return xdp_attach_error(EBUSY, *attempt);
    }
    err = bpf_xdp_detach(ifindex_, xdp_flags(mode), nullptr);
    if (err == -EBUSY)
      return make_error(EADDRINUSE, "interface " + ifname_ +
                                        " is already served by another lrp process (program id " +
                                        std::to_string(id) +
                                        "): stop that process, or lrpd, before starting another "
                                        "on the interface");
    if (err != 0) return make_error(err, "remove stale lrp program " + where());
    std::fprintf(stderr, "lrp: removed a stale lrp XDP program (id %u) %s\n", id, where().c_str());
  }
  return {};
}

Result<std::unique_ptr<XdpProgram>> XdpProgram::attach(int ifindex, const std::string& ifname,
                                                       XdpMode mode, const AttachLimits& limits) {
  std::unique_ptr<XdpProgram> p(new XdpProgram());
  p->ifindex_ = ifindex;
  p->ifname_ = ifname;
  p->mode_ = mode;
  AttachAttempt attempt{.ifname = ifname, .mode = mode};
  // What the messages below need to say what to do.
  if (auto driver = interface_driver(ifname); driver.ok()) attempt.driver = driver.value();
  attempt.mtu = limits.mtu;
  if (attempt.mtu == 0) {
    auto info = query_interface(ifname);
    if (!info) return info.error();
    attempt.mtu = info->mtu;
  }
  if (!limits.multi_buffer && limits.max_frame != 0 && attempt.mtu + 18 > limits.max_frame)
    return xdp_frame_size_error(ifname, attempt.mtu, limits.max_frame);

  LRP_TRY(p->detach_stale(&attempt));
  p->skel_ = lrp_xdp_bpf__open_and_load();
  if (p->skel_ == nullptr) return xdp_load_error(errno, attempt);
  const int prog_fd = bpf_program__fd(p->skel_->progs.lrp_xdp);
  attempt.multi_buffer = (bpf_program__flags(p->skel_->progs.lrp_xdp) & BPF_F_XDP_HAS_FRAGS) != 0;
  LIBBPF_OPTS(bpf_link_create_opts, opts, .flags = xdp_flags(mode));
  int link_fd = bpf_link_create(prog_fd, ifindex, BPF_XDP, &opts);
  if (link_fd < 0) {
    const int err = errno;
    if (err == EBUSY || err == EEXIST) {
      LIBBPF_OPTS(bpf_xdp_query_opts, query);
      if (bpf_xdp_query(ifindex, 0, &query) == 0 && query.prog_id != 0)
        attempt.other_program = "XDP program id " + std::to_string(query.prog_id);
    }
    return xdp_attach_error(err, attempt);
  }
  p->link_fd_ = link_fd;
  if (mode == XdpMode::Generic)
    std::fprintf(stderr, "lrp: warning: generic (skb) XDP on %s: slower than native\n",
                 ifname.c_str());
  bpf_prog_info info{};
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(prog_fd, &info, &len) == 0) p->prog_id_ = info.id;
  return p;
}

}  // namespace lrp
