// An engine owns one (interface, queue): the UMEM with its own fill and
// completion rings, and the AF_XDP sockets bound to that queue with
// XDP_SHARED_UMEM, one per open lrp socket slot. The interface's XDP program
// (one per interface, see interface.h) redirects a frame that arrives on this
// queue to this engine's socket of the frame's slot. The engine offers the
// mechanisms (take frames from a socket's ring and do the UDP work, send,
// refill, reclaim); when to use them is the scheduler's business.
//
// Receive is in engine.cpp (with rx_batch.h), send in engine_send.cpp (with
// tx_batch.h); next hops come from the interface's NeighbourResolver.
#pragma once

#include <array>
#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "lrp/bind_spec.h"
#include "lrp/frame_pool.h"
#include "lrp/ip_address.h"
#include "lrp/large_buffers.h"
#include "lrp/neighbour_resolver.h"
#include "lrp/netdev.h"
#include "lrp/result.h"
#include "lrp/shed_votes.h"
#include "lrp/udp_frame.h"
#include "lrp/umem.h"
#include "lrp/xdp_program.h"

struct xdp_statistics;

namespace lrp {

using SlotId = uint16_t;

// AF_XDP multi-buffer (XDP_USE_SG): frames larger than a UMEM frame arrive
// and leave as several descriptors. Auto: used when the interface's MTU
// needs it (and refused start, with the remedy, when the kernel or driver
// cannot); Off: never (an MTU that needs it is refused).
enum class MultiBuffer : uint8_t { Auto, Off };

struct EngineConfig {
  std::string ifname;
  uint32_t queue = 0;
  UmemConfig umem;
  uint32_t rx_size = 1024;
  uint32_t tx_size = 1024;
  ParseOptions parse;
  MultiBuffer multi_buffer = MultiBuffer::Auto;
  // Contiguous buffers for received datagrams that span several frames
  // (only with multi-buffer); each counts against its socket's held cap.
  uint32_t large_buffers = 64;
};

// The bytes of a received frame the kernel can write into one UMEM frame in
// copy mode (it keeps XDP_PACKET_HEADROOM in front), and the largest MTU
// that fits it with an Ethernet header and one VLAN tag.
inline constexpr uint32_t kXdpPacketHeadroom = 256;
inline constexpr uint32_t kL2Overhead = 18;
constexpr uint32_t rx_frame_capacity(uint32_t frame_size) {
  return frame_size - kXdpPacketHeadroom;
}
constexpr uint32_t max_single_frame_mtu(uint32_t frame_size) {
  return rx_frame_capacity(frame_size) - kL2Overhead;
}

// One datagram to send. The native API's OutDatagram is this type.
struct OutDatagram {
  Endpoint to;
  std::span<const uint8_t> payload;
  // Source address for a socket bound to a wildcard address (like
  // IP_PKTINFO on send); unset: the bound address, or the interface's first
  // address of the destination's family.
  std::optional<IpAddress> from;
};

struct SocketOptions {
  uint32_t held_cap = 512;  // frames the socket's owner may hold at once
  uint32_t tx_cap = 256;    // frames the socket may have in flight for transmit
  // IP_RECVERR: hear on the next send of a datagram dropped after it was
  // taken (its neighbour never answered), as the kernel tells such sockets.
  bool report_errors = false;
};

// A received datagram still in its UMEM frame; give it back with release().
// `queue` names the engine (receive queue) whose UMEM holds the frame. A
// datagram that arrived in several frames (multi-buffer) was copied into one
// of the engine's large buffers: `frame` is then kLargeBufferFrame | index.
inline constexpr uint64_t kLargeBufferFrame = uint64_t{1} << 63;
struct Datagram {
  DatagramView view;
  uint64_t frame = 0;
  SlotId slot = 0;
  uint16_t queue = 0;
};

// Per-socket counters: one writer (whoever runs the socket's protocol work),
// any number of readers (metrics), so relaxed atomics suffice.
struct SocketCounters {
  std::atomic<uint64_t> delivered{0};
  std::atomic<uint64_t> delivered_bytes{0};
  std::atomic<uint64_t> partial_checksum{0};  // delivered on a partial checksum
  std::array<std::atomic<uint64_t>, static_cast<size_t>(DropReason::Count)> invalid{};
  std::atomic<uint64_t> held_cap_reached{0};  // visits cut short by the held-frames cap
  std::atomic<uint64_t> sent{0};
  std::atomic<uint64_t> sent_bytes{0};
  std::atomic<uint64_t> send_would_block{0};
  std::atomic<uint64_t> completed{0};
  // Datagrams that waited for their neighbour (ARP, NDP); those dropped
  // instead of sent are Engine::neighbour_drops().
  std::atomic<uint64_t> neighbour_waited{0};
  // Received datagrams larger than a frame dropped for want of a large buffer.
  std::atomic<uint64_t> large_no_buffer{0};
};

inline void bump(std::atomic<uint64_t>& c, uint64_t n = 1) {
  c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

struct ProcessResult {
  size_t taken = 0;      // frames taken from the RX ring
  size_t delivered = 0;  // valid datagrams written to out
};

// Send flags.
enum class Kick : uint8_t {
  Now,    // kick the kernel to transmit before returning
  Later,  // only queue; flush() (or a later send with Now) transmits
};

class Engine : private WaitingSink {
 public:
  // Opens the engine of config.queue: its UMEM and the anchor socket that
  // owns the UMEM's rings. `program` is the interface's XDP program and
  // `shed` its shed flags, both outliving the engine; `info` gives the
  // interface's index, MAC and MTU. `neighbours` is the interface's
  // resolver, shared by its engines (null: the engine opens its own).
  // Refuses an MTU whose frames do not fit a UMEM frame when multi-buffer
  // is off or unsupported, saying so and what to do.
  static Result<std::unique_ptr<Engine>> open(const EngineConfig& config, XdpProgram& program,
                                              ShedVotes& shed, const InterfaceInfo& info,
                                              std::shared_ptr<NeighbourResolver> neighbours = {});
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // This queue's AF_XDP socket of an lrp socket slot, put into the XDP
  // program's socket map for this queue. Steering flows to the slot is the
  // interface's business (after every queue has its socket).
  Status open_socket(SlotId slot, const Endpoint& local, const SocketOptions& options);
  // Takes the socket out of the socket map, returns every frame its owner
  // held and closes it. The slot's flows must be gone already.
  Status close_socket(SlotId slot);
  // The slot's local address and port changed (connect picked an address).
  void rebind(SlotId slot, const Endpoint& local);

  // Source addresses for sockets bound to any address: the interface's
  // current addresses, first of each family preferred (interface.h keeps
  // them in step with the kernel's).
  void set_addresses(std::vector<IpAddress> addresses);

  // Protocol work for one socket: takes up to out.size() frames from its RX
  // ring (fewer if its held-frames cap is near), validates each, writes the
  // good ones to out (held by the caller until release) and counts and frees
  // the bad ones.
  ProcessResult process(SlotId slot, std::span<Datagram> out);
  void release(const Datagram& datagram);
  void release(std::span<const Datagram> datagrams);
  void release_frame(SlotId slot, uint64_t frame);
  // Frames waiting in the socket's RX ring, without taking them.
  size_t rx_pending(SlotId slot);
  // This queue's wish that XDP drop the slot's frames at the first touch
  // (the flag is the interface's: up while any queue wants it).
  Status shed(SlotId slot, bool on) { return shed_.vote(slot, config_.queue, on); }
  bool shedding(SlotId slot) const { return shed_.shed(slot); }

  // Keeps the shared fill ring topped up from free frames.
  size_t refill();
  // Returns transmitted frames to the pool.
  size_t reclaim_completions();

  // --- send (engine_send.cpp) ---
  //
  // Queues datagrams on the socket's TX ring: as many of `batch` as fit, in
  // order, under one frame-pool lock, with one kick (Kick::Now). Returns how
  // many were taken; the rest were not, and the error that stopped the
  // batch is returned instead when it stopped at the first. Errors:
  //   EAGAIN       TX ring, frames or the socket's transmit budget are full:
  //                reclaim (flush) and retry.
  //   ETIMEDOUT    the budget stayed full with no completion for a second
  //                (link down, device gone).
  //   EXDEV        the destination is not reached through this interface:
  //                an address of this host, or a route through another
  //                interface. Send it through the kernel socket.
  //   EMSGSIZE     the IP packet would exceed the path MTU (the route's or
  //                the interface's), or the frames a UMEM frame can carry
  //                without multi-buffer. Send it through the kernel socket,
  //                which fragments; lrp never emits an oversized frame.
  //   EHOSTUNREACH an earlier datagram was dropped because its neighbour
  //                never answered; reported once, and only to a socket
  //                that asked (report_errors, the kernel's IP_RECVERR:
  //                without it the kernel reports nothing either).
  //   EADDRNOTAVAIL no source address of the destination's family.
  //   ENETUNREACH, EACCES, ... the kernel's route lookup refused: what the
  //                kernel socket would say too.
  //   EAFNOSUPPORT, EINVAL, EBADF: the datagram or slot is wrong.
  // A datagram whose neighbour is not resolved yet is taken: it waits in
  // the neighbour's queue and leaves when ARP or NDP answers (dropped and
  // counted, in neighbour_drops(), when resolution fails or the queue
  // overflows, as the kernel does).
  Result<size_t> send_batch(SlotId slot, std::span<const OutDatagram> batch, Kick kick = Kick::Now);
  // One datagram, queued without a kick; errors as send_batch.
  Status send(SlotId slot, const Endpoint& to, std::span<const uint8_t> payload,
              const IpAddress* from = nullptr);
  // Kicks the kernel to transmit what is queued (copy mode sends only when
  // kicked, a bounded number of frames per kick).
  Status flush(SlotId slot);
  // Datagrams of the slot's current socket dropped while waiting for their
  // neighbour (resolution failed, or its queue overflowed).
  uint64_t neighbour_drops(SlotId slot) const;
  // SocketOptions::report_errors, changed on an open socket (IP_RECVERR set later).
  void set_error_reports(SlotId slot, bool on);
  NeighbourResolver& neighbours() { return *neighbours_; }
  // Whether this engine's sockets use multi-buffer.
  bool multi_buffer() const { return multi_buffer_; }

  // Kernel busy polling on the socket (SO_PREFER_BUSY_POLL): a receive call
  // then drives the device's NAPI loop from this thread.
  Status enable_busy_poll(SlotId slot, uint32_t budget);
  // The NAPI id the kernel recorded for the socket: 0 until a packet arrived,
  // and 0 on devices without NAPI.
  Result<uint32_t> napi_id(SlotId slot) const;
  // One busy-poll step on the socket (no-op unless busy polling is on).
  void busy_poll(SlotId slot);

  int socket_fd(SlotId slot) const;
  const Endpoint& bound(SlotId slot) const;
  bool slot_open(SlotId slot) const;
  // Runs f while the socket cannot be closed (for readers on other threads,
  // such as metrics); false if the slot is not open.
  template <class F>
  bool with_open_socket(SlotId slot, F&& f) const {
    std::lock_guard lock(control_mutex_);
    if (!slot_open(slot)) return false;
    f();
    return true;
  }
  const SocketCounters& counters(SlotId slot) const;
  Result<xdp_statistics> kernel_stats(SlotId slot) const;
  // Frames in the fill ring and in the slot's RX ring, read from the rings.
  size_t fill_ring_entries() const;
  size_t rx_ring_entries(SlotId slot) const;
  // Every frame is somewhere, once: pool bookkeeping against the rings.
  // Only exact while no traffic is in flight, and after the kernel's last
  // receive on the queue succeeded: a receive that found the RX ring full
  // keeps the fill-ring frame it took until its next receive.
  bool frames_accounted(std::string* why);
  // Large buffers (multi-buffer receive) held, all sockets.
  size_t large_buffers_held() const { return large_ ? large_->held() : 0; }

  XdpProgram& program() { return program_; }
  FramePool& frames() { return *pool_; }
  const EngineConfig& config() const { return config_; }
  uint32_t queue() const { return config_.queue; }
  int ifindex() const { return ifindex_; }
  // The fd that wakes on fill-ring need-wakeup (the first socket of the UMEM).
  int anchor_fd() const;

 private:
  struct Socket;
  // Per slot, outliving the socket in it: what the resolver may touch from
  // any thread without a lock.
  struct SlotWaits {
    std::atomic<uint32_t> epoch{0};
    std::atomic<bool> report{false};
    std::atomic<int> pending_error{0};
    std::atomic<uint64_t> dropped{0};
    std::mutex failed_mutex;  // innermost: held for a copy only
    IpAddress failed;         // the destination of the datagram reported
  };
  Engine(XdpProgram& program, ShedVotes& shed);
  Status open_anchor();
  Status check_mtu(const InterfaceInfo& info);
  Socket* socket(SlotId slot) const;
  Result<IpAddress> source_for(const Socket& s, const Endpoint& to, const IpAddress* from) const;
  Status tx_budget_check(Socket& s);
  Result<size_t> send_locked(Socket& s, std::span<const OutDatagram> batch, int64_t now_ns);
  void kick(Socket& s);
  // WaitingSink, from the resolver.
  void send_waiting(std::span<WaitingDatagram> datagrams, const MacAddress& mac) override;
  void drop_waiting(const WaitingDatagram& datagram, int error) override;
  ProcessResult take_large(Socket& s, std::span<Datagram> out, size_t delivered_before);

  EngineConfig config_;
  int ifindex_ = 0;
  std::array<uint8_t, 6> mac_{};
  bool multi_buffer_ = false;
  // Replaced whole when the interface's addresses change; senders read a snapshot.
  std::atomic<std::shared_ptr<const std::vector<IpAddress>>> addresses_;
  XdpProgram& program_;
  ShedVotes& shed_;
  std::unique_ptr<Umem> umem_;
  std::unique_ptr<FramePool> pool_;
  std::unique_ptr<LargeBuffers> large_;
  std::unique_ptr<Socket> anchor_;
  std::array<std::unique_ptr<Socket>, LRP_MAX_SLOTS> sockets_;
  std::array<SlotWaits, LRP_MAX_SLOTS> waits_;
  uint32_t next_epoch_ = 1;
  mutable std::mutex control_mutex_;  // open/close sockets
  std::mutex fill_mutex_;             // one writer on the shared fill ring
  std::mutex comp_mutex_;             // one reader on the shared completion ring
  std::shared_ptr<NeighbourResolver> neighbours_;
};

}  // namespace lrp
