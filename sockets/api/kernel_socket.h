// The kernel UDP socket behind an lrp socket, bound to the same address and
// port. It reserves the port against other programs (the kernel has already
// applied privileged ports, address-in-use and SO_REUSEPORT), proves the
// socket's ownership to lrpd, receives what does not come through XDP
// (datagrams from this host, from other interfaces, fragments) and sends what
// lrp cannot (to this host, or to routes that leave through another
// interface).
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "lrp/bind_spec.h"
#include "lrp/result.h"

namespace lrp::sockets {

struct KernelDatagram {
  size_t size = 0;           // bytes written to the buffer
  size_t datagram_size = 0;  // bytes the datagram had
  Endpoint source;
  Endpoint local;  // the address it was sent to, and the bound port
};

class KernelSocket {
 public:
  // A new non-blocking socket bound as `bind` says (IPv6 only for IPv6
  // binds: lrp serves the families apart); connected when bind.remote is
  // set. Port 0: the kernel chooses (bound() tells which).
  static Result<KernelSocket> open(const BindSpec& bind, bool reuse_address = false);
  // A socket the caller bound and keeps reading; only sends go through it.
  static KernelSocket borrow(int fd);

  KernelSocket() = default;
  KernelSocket(KernelSocket&& other) noexcept;
  KernelSocket& operator=(KernelSocket&& other) noexcept;
  KernelSocket(const KernelSocket&) = delete;
  KernelSocket& operator=(const KernelSocket&) = delete;
  ~KernelSocket();

  int fd() const { return fd_; }
  // Opened here (and read here), not borrowed from the caller.
  bool owned() const { return owned_; }
  uint16_t port() const { return port_; }

  // One datagram without waiting; EAGAIN when none is queued.
  Result<KernelDatagram> receive(std::span<uint8_t> buffer);
  // `from`: the source address (IP_PKTINFO), or null for the kernel's choice.
  Status send(const Endpoint& to, std::span<const uint8_t> payload, const IpAddress* from);
  Status connect(const Endpoint& remote);

 private:
  void reset();
  int fd_ = -1;
  bool owned_ = false;
  bool v6_ = false;
  uint16_t port_ = 0;
};

}  // namespace lrp::sockets
