// What crosses the native API: received datagrams (zero-copy views, or the
// description of a copied one) and datagrams to send.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "lrp/engine.h"
#include "lrp/ip_address.h"

namespace lrp::sockets {

// A zero-copy receive hands out lrp::Datagram: view.payload points into a
// UMEM frame that the caller holds until it calls done(). view.source is the
// sender, view.destination the local address and port it was sent to, and
// slot names the receiving socket (UdpSocket::slot()).
using lrp::Datagram;

// A datagram copied into the caller's buffer.
struct ReceiveInfo {
  size_t size = 0;           // bytes written to the buffer
  size_t datagram_size = 0;  // payload bytes the datagram had
  bool truncated = false;    // datagram_size > buffer size: the rest is discarded
  Endpoint source;
  // The address and port the datagram was sent to, when the socket asked
  // for it (Option::ReceiveLocalAddress, like IP_PKTINFO).
  std::optional<Endpoint> local;
  SlotId slot = 0;  // the socket it arrived on
};

// A datagram to send: destination, payload and an optional source address
// (like IP_PKTINFO on send). The engine's own type, so a batch reaches it as is.
using lrp::OutDatagram;

}  // namespace lrp::sockets
