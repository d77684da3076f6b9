// What lrpd's control plane needs from the data path, and what the data path
// needs from the control plane, as two narrow interfaces. The control plane
// (sessions, applications, sockets, checks) is written against
// ServiceBackend only, so it runs over a fake in tests; the real backend
// assembles engines and schedulers on the served interfaces.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "lrp/engine.h"
#include "lrp/ip_address.h"
#include "lrp/result.h"
#include "service/protocol.h"

namespace lrp::service {

// One datagram the engine validated, on its way into an application's RX
// ring. The payload is the engine's (a UMEM frame) for the length of the
// call: the application side copies it.
struct Delivery {
  uint32_t socket_tag = 0;  // the tag the socket was added with (lrpd's socket id)
  const DatagramView* view = nullptr;
  uint32_t ifindex = 0;
  uint16_t queue = 0;
  uint8_t tos = 0;
  uint8_t ttl = 0;
  uint64_t time_ns = 0;  // CLOCK_REALTIME
};

using BackendApp = uint32_t;
using BackendSocket = uint64_t;  // opaque to the control plane

// Where an application's transmit goes: the engine thread draining it.
class TxOut {
 public:
  virtual ~TxOut() = default;
  // Queues one datagram on the backend socket; EAGAIN when the device's
  // ring stays full. The frame's source port is the socket's.
  // The socket may be on another interface than the draining thread's
  // engine: the backend serialises such sends itself.
  virtual Status send(BackendSocket socket, const Endpoint& to, std::span<const uint8_t> payload,
                      const IpAddress* from) = 0;
  // Whether addr is an address of the interface (index into interfaces()) now.
  virtual bool is_local(uint32_t iface, const IpAddress& addr) = 0;
  // The interface to send to dst from when the source address does not say.
  virtual uint32_t route(const IpAddress& dst) = 0;
};

// The daemon side of one application, as the engines see it. Engine threads
// call these concurrently (one per queue), always between add_app and the
// return of remove_app.
class AppPort {
 public:
  virtual ~AppPort() = default;
  // Datagrams the application can take now (RX ring room under its bound).
  // The engine does an application's protocol work only when this is > 0.
  virtual size_t room() = 0;
  // Copies the batch into the RX ring; returns how many fitted (the rest
  // are counted as ring-full drops). The caller releases the frames.
  virtual size_t deliver(std::span<const Delivery> batch) = 0;
  // Rings the application's doorbell if one of its processes sleeps.
  virtual void wake_if_waiting() = 0;
  // Takes up to `budget` transmit entries, checks each against the
  // application's bindings and sends the good ones through `out`. Returns
  // how many entries were taken (sent, refused or dropped).
  virtual size_t drain_tx(TxOut& out, size_t budget) = 0;
  // Whether the application queued datagrams for transmit. When it did
  // not, the application is asked to ring wake_fd() when it does; and
  // room() == 0 asks it to ring when it makes room. The port drains what
  // was rung itself, so the engine may keep wake_fd() in its epoll set
  // (level-triggered) without spinning.
  virtual bool transmit_pending() = 0;
  // lrpd's end of the doorbell: readable when the application rang.
  virtual int wake_fd() const = 0;
  // An engine woke on wake_fd(): clears what was rung. The application
  // takes the flag and then rings, so a ring may land after the engine
  // settled the flag; it is cleared by the wake-up it causes.
  virtual void drain_wake() = 0;
};

struct ServedInterface {
  std::string name;
  uint32_t ifindex = 0;
  uint32_t mtu = 0;
  std::vector<IpAddress> addresses;
};

struct BackendAppSpec {
  std::string name;
  uint32_t weight = 1;
  uint32_t queue_bound = 1024;
  uint32_t held_cap = 512;
  uint32_t pid = 0;
  uint32_t uid = 0;
};

struct BackendSocketSpec {
  uint32_t iface = 0;  // index into interfaces()
  BindSpec bind;
  bool reuseport = false;
  uint32_t tag = 0;  // Delivery::socket_tag of its datagrams
};

// Protocol-side counters of an application, summed over queues.
struct BackendAppCounters {
  uint64_t charged_ns = 0;
  uint64_t frames = 0;     // taken from the AF_XDP rings
  uint64_t delivered = 0;  // handed to the application port
  uint64_t skipped_full = 0;
  uint64_t shed_raised = 0;
};

struct BackendSocketCounters {
  uint64_t delivered = 0;
  uint64_t delivered_bytes = 0;
  uint64_t invalid = 0;           // failed protocol checks
  uint64_t shed = 0;              // dropped at XDP by the shed flag
  uint64_t kernel_ring_full = 0;  // AF_XDP RX ring full
  uint64_t sent = 0;
};

class ServiceBackend {
 public:
  virtual ~ServiceBackend() = default;

  // The served interfaces, in --iface order; fixed for the backend's life
  // (addresses may change: ask again).
  virtual std::vector<ServedInterface> interfaces() const = 0;
  // Starts the engines (after the first application may be added) and stops them.
  virtual Status start() = 0;
  virtual void stop() = 0;

  // An application in every queue's scheduler, delivering through port.
  virtual Result<BackendApp> add_app(const BackendAppSpec& spec, AppPort& port) = 0;
  // Removes its sockets and returns every frame it held. When it returns,
  // no engine thread is inside the port's calls any more.
  virtual Status remove_app(BackendApp app) = 0;
  // Sends what the application queued for transmit that no engine took
  // yet. A datagram leaves once its send returned, as from a kernel socket,
  // even when the program closes the socket or exits right after: called
  // before an application's sockets are removed.
  virtual void flush_transmit(BackendApp app) = 0;
  // EADDRINUSE: the flow is served already (without reuseport);
  // EADDRNOTAVAIL: not an address of the interface.
  virtual Result<BackendSocket> add_socket(BackendApp app, const BackendSocketSpec& spec) = 0;
  virtual Status remove_socket(BackendApp app, BackendSocket socket) = 0;
  virtual Status set_weight(BackendApp app, uint32_t weight) = 0;
  // Multicast for the socket (reference-counted per interface).
  virtual Status join_group(BackendSocket socket, const IpAddress& group) = 0;
  virtual Status leave_group(BackendSocket socket, const IpAddress& group) = 0;
  virtual std::vector<EngineStatus> engine_status() const = 0;
  virtual BackendAppCounters app_counters(BackendApp app) const = 0;
  virtual BackendSocketCounters socket_counters(BackendSocket socket) const = 0;
};

}  // namespace lrp::service
