// What a Stack runs on. In process: the runtime in this process (zero-copy
// views into its UMEM; needs the privileges for XDP and AF_XDP). lrpd: the
// host's daemon (any user; payloads are copied through shared memory, and
// each socket is proven by the kernel socket bound to the same address).
// Applications and sockets above see the same calls either way.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "lrp/bind_spec.h"
#include "lrp/engine.h"
#include "lrp/result.h"
#include "sockets/api/options.h"

namespace lrp::sockets {

// An application of the backend (an index it chose).
using BackendApp = uint32_t;

// A socket's counters, summed over the queues it is served on.
struct SocketStats {
  uint64_t delivered = 0;
  uint64_t delivered_bytes = 0;
  uint64_t invalid = 0;  // every drop reason together
  uint64_t sent = 0;
  uint64_t sent_bytes = 0;
  uint64_t send_would_block = 0;
  uint64_t completed = 0;
  uint64_t neighbour_waited = 0;   // waited for ARP or NDP
  uint64_t neighbour_dropped = 0;  // ... and were dropped (no answer, queue full)
};

// An application's counters, summed over the queues.
struct AppStats {
  uint64_t charged_ns = 0;
  uint64_t visits = 0;
  uint64_t delivered = 0;
  uint64_t queue_full_drops = 0;
  uint64_t shed_raised = 0;
  bool shed = false;
};

class Backend {
 public:
  virtual ~Backend() = default;
  // "in-process" or "lrpd", for messages.
  virtual const char* kind() const = 0;

  virtual Result<BackendApp> add_app(const ApplicationConfig& config) = 0;
  virtual Status remove_app(BackendApp app) = 0;
  // `kernel_fd` is a kernel UDP socket bound (or connected) as `bind` says,
  // or -1 when the caller has none (in process only).
  virtual Result<SlotId> add_socket(BackendApp app, const BindSpec& bind, int kernel_fd) = 0;
  virtual Status remove_socket(BackendApp app, SlotId slot) = 0;
  virtual Status rebind_socket(BackendApp app, SlotId slot, const BindSpec& bind,
                               int kernel_fd) = 0;

  // Zero-copy receive: views stay valid until done().
  virtual size_t receive(BackendApp app, std::span<Datagram> out, int timeout_ms) = 0;
  virtual void done(std::span<const Datagram> datagrams) = 0;
  virtual int ready_fd(BackendApp app) const = 0;
  virtual size_t queued(BackendApp app) const = 0;
  // Datagrams waiting for a receive on one socket of the application: what
  // queued() counts, and what a backend still holds for it before protocol
  // work (in process: its receive rings).
  virtual size_t pending(BackendApp app, SlotId /*slot*/) const { return queued(app); }
  // A look without system calls or locks: may a receive find something?
  virtual bool maybe_pending(BackendApp app) = 0;

  // Queues one datagram; EAGAIN when the transmit path is full (flush and
  // retry). `reply_queue`: the queue a request arrived on, for its reply
  // (-1: none). kick_when_full: on EAGAIN, kick and reclaim once and retry.
  virtual Status send(SlotId slot, const Endpoint& to, std::span<const uint8_t> payload,
                      const IpAddress* from, int reply_queue, bool kick_when_full) = 0;
  // Queues as many of batch as fit, in order, and (Kick::Now) kicks once.
  // Returns how many were taken; the error that stopped the batch when it
  // stopped at the first (the errors of Engine::send_batch). `reply_queue`
  // as for send(). In process this is one engine call; this default, for
  // backends without a batch path, sends one by one.
  virtual Result<size_t> send_batch(SlotId slot, std::span<const OutDatagram> batch,
                                    int reply_queue, Kick kick) {
    size_t n = 0;
    for (const OutDatagram& d : batch) {
      Status st =
          send(slot, d.to, d.payload, d.from ? &*d.from : nullptr, reply_queue, kick == Kick::Now);
      if (!st.ok()) {
        if (n == 0) return st.error();
        break;
      }
      ++n;
    }
    if (kick == Kick::Now && n > 0) LRP_TRY(flush(slot));
    return n;
  }
  // Kicks the transmit of what is queued and reclaims completions.
  virtual Status flush(SlotId slot) = 0;

  virtual SocketStats socket_stats(SlotId slot) const = 0;
  virtual AppStats app_stats(BackendApp app) const = 0;

  // A Prometheus endpoint on HOST:PORT for what this backend runs; returns
  // its URL. ENOTSUP where the daemon serves the metrics.
  virtual Result<std::string> start_metrics(const std::string& host_port) = 0;
  virtual std::string metrics_url() const = 0;
};

}  // namespace lrp::sockets
