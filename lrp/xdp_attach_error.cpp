#include "lrp/xdp_attach_error.h"

#include <unistd.h>

#include <cerrno>

#include "lrp/xdp_program.h"

namespace lrp {

namespace {

std::string tried(const AttachAttempt& a, const char* stage) {
  return std::string(stage) + " the lrp XDP program " +
         (std::string(stage) == "load" ? "for " : "on ") + a.ifname + " in " + to_string(a.mode) +
         " mode";
}

std::string driver_of(const AttachAttempt& a) {
  return a.driver.empty() ? "its driver" : "its driver (" + a.driver + ")";
}

std::string generic_remedy(const AttachAttempt& a) {
  if (a.mode == XdpMode::Generic) return "";
  return ", or run lrp with generic XDP (--generic), which every device supports at a higher "
         "cost per packet";
}

}  // namespace

uint32_t veth_xdp_mtu_limit() {
  // veth: SKB_WITH_OVERHEAD(PAGE_SIZE - XDP_PACKET_HEADROOM) - ETH_HLEN, where
  // the overhead is skb_shared_info (320 bytes on 64-bit kernels).
  const long page = sysconf(_SC_PAGESIZE);
  return static_cast<uint32_t>((page > 0 ? page : 4096) - 256 - 320 - 14);
}

std::string capabilities_remedy() {
  return "Run lrp as root, or grant its binary the capabilities: setcap "
         "cap_bpf,cap_perfmon,cap_net_admin,cap_net_raw,cap_sys_admin+ep BINARY";
}

uint32_t mtu_fitting(uint32_t max_frame) {
  return max_frame > 18 ? max_frame - 18 : 0;
}

Error xdp_frame_size_error(const std::string& ifname, uint32_t mtu, uint32_t max_frame) {
  const uint32_t fit = mtu_fitting(max_frame);
  return make_error(EMSGSIZE,
                    "serve " + ifname + ": its MTU is " + std::to_string(mtu) +
                        ", so frames of up to " + std::to_string(mtu + 18) +
                        " bytes can arrive, but lrp takes at most " + std::to_string(max_frame) +
                        " bytes per frame (one UMEM frame less its headroom) and this build "
                        "does not receive frames over several UMEM frames (AF_XDP multi-buffer). "
                        "Lower the MTU to " +
                        std::to_string(fit) + " or less (ip link set dev " + ifname + " mtu " +
                        std::to_string(fit) +
                        "), or use larger UMEM frames (4096-byte frames take an MTU of up to " +
                        std::to_string(mtu_fitting(4096 - 256)) + ")");
}

Error xdp_load_error(int err, const AttachAttempt& a) {
  if (err == EPERM)
    return make_error(err, tried(a, "load") +
                               ": not permitted (loading BPF needs CAP_BPF and CAP_PERFMON, or "
                               "CAP_SYS_ADMIN). " +
                               capabilities_remedy());
  // The verifier says EACCES or EINVAL for a program it will not run.
  return make_error(err,
                    tried(a, "load") +
                        ": the kernel refused the program (lrp needs Linux 5.18 or later "
                        "with BPF, XDP and AF_XDP; without CAP_BPF the verifier is stricter: " +
                        capabilities_remedy() + ")");
}

Error xdp_attach_error(int err, const AttachAttempt& a) {
  const std::string what = tried(a, "attach");
  const std::string mtu = a.mtu != 0 ? std::to_string(a.mtu) : std::string("the current MTU");
  switch (err) {
    case EPERM:
    case EACCES:
      return make_error(err, what + ": not permitted (attaching XDP needs CAP_NET_ADMIN). " +
                                 capabilities_remedy());
    case ERANGE:
      if (a.driver == "veth") {
        const std::string limit = std::to_string(veth_xdp_mtu_limit());
        return make_error(
            err, what + ": veth refuses native XDP when its peer's MTU is above " + limit +
                     " bytes" + (a.multi_buffer ? "" : " for a program without multi-buffer") +
                     " (" + a.ifname + " has MTU " + mtu + "). Lower the MTU of both ends to " +
                     limit + " or less (ip link set dev " + a.ifname + " mtu " + limit +
                     ", and the same on the peer)" + generic_remedy(a));
      }
      return make_error(err, what + ": " + driver_of(a) + " refuses native XDP at MTU " + mtu +
                                 ", above the largest frame it supports for XDP" +
                                 (a.multi_buffer ? "" : " without multi-buffer") +
                                 ". Lower the MTU (ip link set dev " + a.ifname +
                                 " mtu 1500, or the largest the driver documents for XDP)" +
                                 generic_remedy(a));
    case EOPNOTSUPP:
      if (a.mode == XdpMode::Native)
        return make_error(err, what + ": " + driver_of(a) +
                                   " has no native XDP support. Run lrp with generic XDP "
                                   "(--generic), which every device supports at a higher cost "
                                   "per packet, or serve a device whose driver has native XDP");
      return make_error(err, what + ": the kernel has no generic XDP for " + a.ifname);
    case EBUSY:
    case EEXIST:
      return make_error(
          err, what + ": " + a.ifname + " already has an XDP program" +
                   (a.other_program.empty() ? "" : " (" + a.other_program + ")") +
                   " that lrp will not replace. If it is another lrp process, stop it first; "
                   "otherwise detach the program if it is not needed (ip link set dev " +
                   a.ifname + " xdp off) or serve another interface");
    case ENOSPC:
      if (a.driver == "veth")
        return make_error(err, what + ": veth takes native XDP only when " + a.ifname +
                                   " has at least as many receive queues as its peer has "
                                   "transmit queues. Create the pair with numrxqueues N on " +
                                   a.ifname + ", or lower the peer's (ethtool -L PEER tx N)" +
                                   generic_remedy(a));
      break;
    case ENOTCONN:
      if (a.driver == "veth")
        return make_error(
            err, what + ": the veth " + a.ifname + " has no peer any more; recreate the pair");
      break;
    case ENODEV:
      return make_error(err, what + ": the interface disappeared");
    case EINVAL:
      if (a.mode == XdpMode::Native)
        return make_error(err, what + ": " + driver_of(a) +
                                   " refused native XDP with its current settings (drivers "
                                   "refuse it with LRO or hardware GRO on, with too few "
                                   "channels, or at an MTU above what they take for XDP; " +
                                   a.ifname + " has MTU " + mtu + "). Turn those off (ethtool -K " +
                                   a.ifname + " lro off gro-hw off), lower the MTU" +
                                   generic_remedy(a));
      break;
    default:
      break;
  }
  if (a.mode == XdpMode::Native)
    return make_error(err, what +
                               ": the driver refused it; run lrp with generic XDP (--generic), "
                               "which every device supports at a higher cost per packet");
  return make_error(err, what);
}

}  // namespace lrp
