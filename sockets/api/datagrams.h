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

// Datagram::queue of a datagram that reached the socket through its kernel
// socket instead of lrp (from this host, from another interface, IP
// fragments); its payload is a copy, given back with done() all the same,
// and a reply to it leaves through the kernel too.
inline constexpr uint16_t kKernelQueue = 0xffff;

// A datagram copied into the caller's buffer.
struct ReceiveInfo {
  size_t size = 0;           // bytes written to the buffer
  size_t datagram_size = 0;  // payload bytes the datagram had
  bool truncated = false;    // datagram_size > buffer size: the rest is discarded
  Endpoint source;
  // The address and port the datagram was sent to, when the socket asked
  // for it (Option::ReceiveLocalAddress, like IP_PKTINFO).
  std::optional<Endpoint> local;
  SlotId slot = 0;              // the socket it arrived on
  bool through_kernel = false;  // it came through the kernel socket (kKernelQueue)
  uint8_t tos = 0;              // IPv4 TOS or IPv6 traffic class (IP_RECVTOS, IPV6_RECVTCLASS)
  uint8_t ttl = 0;              // IPv4 TTL or IPv6 hop limit (IP_RECVTTL, IPV6_RECVHOPLIMIT)
};

// A datagram to send: destination, payload and an optional source address
// (like IP_PKTINFO on send). The engine's own type, so a batch reaches it as is.
using lrp::OutDatagram;

}  // namespace lrp::sockets
