// What an lrp socket receives: the flow XDP steers into it.
#pragma once

#include <cstdint>
#include <optional>

#include "lrp/ip_address.h"

namespace lrp {

// A local address (or any) and port, optionally only from one remote
// endpoint (a connected socket, matched before the others).
struct BindSpec {
  IpAddress local;  // any address of the family = wildcard
  uint16_t port = 0;
  std::optional<Endpoint> remote;
  // SO_REUSEPORT: sockets with the same flow share it, each remote endpoint
  // keeps to one of them (the kernel's reuseport group, done in XDP).
  bool reuseport = false;
};

}  // namespace lrp
