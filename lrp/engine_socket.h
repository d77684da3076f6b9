// The engine's per-slot AF_XDP socket, shared by engine.cpp (receive and
// control) and engine_send.cpp (send). Internal to the engine.
#pragma once

#include <xdp/xsk.h>

#include <mutex>
#include <optional>

#include "lrp/engine.h"

namespace lrp {

struct Engine::Socket {
  xsk_socket* xsk = nullptr;
  xsk_ring_cons rx{};
  xsk_ring_prod tx{};
  SlotId slot = 0;
  uint32_t epoch = 0;  // tells this socket from a later one in the same slot
  Endpoint local;
  SocketOptions options;
  SocketCounters counters;
  bool busy_poll = false;

  // One producer on the TX ring: the socket's senders and the neighbour
  // resolver's thread (datagrams that waited) take turns. Everything below
  // is under it.
  std::mutex tx_mutex;
  // When the transmit budget was first found full with no completion since
  // (0: not stalled), and the completion count seen then.
  int64_t tx_stalled_since_ns = 0;
  uint64_t tx_stall_completed = 0;
  // The next hop of the last destination sent to: a connected socket, or
  // a server answering one client, asks the resolver only when it changes.
  bool path_valid = false;
  IpAddress path_dst;
  PathInfo path;

  ~Socket() {
    if (xsk != nullptr) xsk_socket__delete(xsk);
  }
};

}  // namespace lrp
