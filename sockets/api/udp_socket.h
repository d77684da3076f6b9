// A UDP socket on lrp: one flow (local address or wildcard and port, or an
// exact 5-tuple when connected) steered by XDP into its own AF_XDP ring.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <span>

#include "lrp/engine.h"
#include "lrp/result.h"
#include "sockets/api/backend.h"
#include "sockets/api/datagrams.h"
#include "sockets/api/kernel_socket.h"
#include "sockets/api/options.h"

namespace lrp::sockets {

class Application;

using lrp::Kick;

class UdpSocket {
 public:
  // Closes the socket if still open.
  ~UdpSocket();
  UdpSocket(const UdpSocket&) = delete;
  UdpSocket& operator=(const UdpSocket&) = delete;

  // --- receive (sockets with an application of their own; a socket that
  // joined a shared application gets EINVAL and receives through it) ---

  // Zero-copy: up to out.size() datagrams of this socket, waiting up to
  // timeout_ms (kNoWait, kWaitForever). Returns 0 when nothing arrived in
  // time. Each datagram's payload stays valid until done(). In run-to-
  // completion threading this call does the socket's protocol work.
  Result<size_t> receive(std::span<Datagram> out, int timeout_ms);
  void done(const Datagram& datagram);
  void done(std::span<const Datagram> datagrams);
  // One datagram copied into buffer; its frame is released before
  // returning. EAGAIN when nothing arrived in time. ReceiveInfo::local is
  // set when Option::ReceiveLocalAddress is on.
  Result<ReceiveInfo> receive_copy(std::span<uint8_t> buffer, int timeout_ms);
  // Readable while a receive would find something; for the caller's
  // epoll/poll/select (level-triggered). Owned by the socket.
  int ready_fd() const;

  // --- send (never blocks) ---

  // Queues one datagram and kicks the transmit. EAGAIN when the socket's
  // transmit ring or budget is full even after reclaiming completions: retry
  // later. EAFNOSUPPORT when `to` is of the other family than the socket.
  Status send_to(const Endpoint& to, std::span<const uint8_t> payload,
                 const IpAddress* from = nullptr);
  // Connected sockets: to the remote. EDESTADDRREQ when not connected.
  Status send(std::span<const uint8_t> payload);
  // Back to where a received datagram came from, from the address it was
  // sent to.
  Status reply(const Datagram& to, std::span<const uint8_t> payload);
  // Queues as many as fit, then kicks once (Kick::Now): one engine call,
  // one frame-pool lock, one kick. Returns how many were queued (the first
  // `n` of batch); EAGAIN if none fitted; another error if the first one was
  // refused for another reason (see Engine::send_batch: EXDEV and EMSGSIZE
  // mean "send it through the kernel socket"). Kick::Later only queues, to
  // gather several batches into one kick: nothing is transmitted until
  // flush() or a later send, and once the socket's in-flight budget is used
  // up, EAGAIN says so until then.
  Result<size_t> send_batch(std::span<const OutDatagram> batch, Kick kick = Kick::Now);
  // Kicks the transmit of what is queued and reclaims completions.
  Status flush();

  // --- state ---

  // Turns the flow into a connected one (exact 5-tuple, matched before
  // wildcard and bound sockets). The slot may change; the ready fd stays.
  Status connect(const Endpoint& remote);
  // Stops the flow and returns every frame the socket held (also datagrams
  // received and not yet done). Further calls fail with EBADF.
  Status close();
  bool is_open() const { return open_; }

  // Options: ReceiveLocalAddress may change at any time; the application
  // options are fixed once the socket is open (EBUSY), set them in
  // SocketConfig. A socket of a shared application reports its settings.
  Status set_option(Option option, int64_t value);
  Result<int64_t> option(Option option) const;

  SlotId slot() const { return slot_; }
  // Local address (possibly wildcard) and port.
  const Endpoint& local() const { return local_; }
  // The kernel socket bound beside it (see kernel_socket.h).
  int kernel_fd() const { return kernel_.fd(); }
  const std::optional<Endpoint>& remote() const { return bind_.remote; }
  int family() const { return bind_.local.family(); }
  BackendApp application_id() const;
  // True when the socket has an application of its own.
  bool owns_application() const;
  // Summed over the queues it is served on.
  SocketStats counters() const;
  // A look without system calls or locks: may a receive find something?
  bool maybe_pending() const;
  // Datagrams waiting for a receive: delivered to its application and, in
  // process, still in its receive rings (a look at the rings, no protocol
  // work). What a receive path already took into its cache is not counted.
  size_t pending() const;

 private:
  friend class Application;
  friend class Stack;
  UdpSocket(std::shared_ptr<Application> app, const BindSpec& bind, SlotId slot,
            const SocketConfig& config, KernelSocket kernel);
  Status check_open(const char* what) const;
  // kick_when_full: on EAGAIN, kick and reclaim once and retry.
  // reply_queue: the queue the datagram answered arrived on, or -1.
  Status queue_one(const Endpoint& to, std::span<const uint8_t> payload, const IpAddress* from,
                   bool kick_when_full, int reply_queue);
  Status send_locked_and_kick(const Endpoint& to, std::span<const uint8_t> payload,
                              const IpAddress* from, int reply_queue);

  std::shared_ptr<Application> app_;
  BindSpec bind_;
  Endpoint local_;
  SlotId slot_ = 0;
  SocketConfig config_;
  bool open_ = true;
  KernelSocket kernel_;
  std::mutex send_mutex_;  // one producer on the socket's TX ring
};

}  // namespace lrp::sockets
