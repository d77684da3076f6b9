// The XDP program's skeleton under one name for the tests. bpftool names the
// skeleton's type after the name it is given (lrp_xdp) or, without one, after
// the object file (lrp_xdp_bpf); the tests accept either.
#pragma once

#include "lrp_xdp.skel.h"

namespace lrp::test {

#if defined(__LRP_XDP_BPF_SKEL_H__)
using XdpSkel = ::lrp_xdp_bpf;
inline XdpSkel* xdp_skel_open_and_load() {
  return lrp_xdp_bpf__open_and_load();
}
inline void xdp_skel_destroy(XdpSkel* skel) {
  lrp_xdp_bpf__destroy(skel);
}
#elif defined(__LRP_XDP_SKEL_H__)
using XdpSkel = ::lrp_xdp;
inline XdpSkel* xdp_skel_open_and_load() {
  return lrp_xdp__open_and_load();
}
inline void xdp_skel_destroy(XdpSkel* skel) {
  lrp_xdp__destroy(skel);
}
#else
#error "unexpected skeleton header for the lrp XDP program"
#endif

}  // namespace lrp::test
