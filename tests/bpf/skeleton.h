// The XDP program's skeleton under one name for the tests.
#pragma once

#include "lrp_xdp.skel.h"

namespace lrp::test {

using XdpSkel = ::lrp_xdp_bpf;
inline XdpSkel* xdp_skel_open_and_load() {
  return lrp_xdp_bpf__open_and_load();
}
inline void xdp_skel_destroy(XdpSkel* skel) {
  lrp_xdp_bpf__destroy(skel);
}

}  // namespace lrp::test
