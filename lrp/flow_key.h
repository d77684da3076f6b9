// The XDP flow key for a bound or connected socket (layout in bpf/lrp_shared.h).
#pragma once

#include "bpf/lrp_shared.h"
#include "lrp/ip_address.h"

namespace lrp {

struct BindSpec;

// Connected sockets get an exact 5-tuple key, sockets bound to an address a
// local key, sockets bound to any address a wildcard key.
lrp_flow_key flow_key_for(const BindSpec& bind);

}  // namespace lrp
