// An engine owns one (interface, queue): the UMEM with its own fill and
// completion rings, and the AF_XDP sockets bound to that queue with
// XDP_SHARED_UMEM, one per open lrp socket slot. The interface's XDP program
// (one per interface, see interface.h) redirects a frame that arrives on this
// queue to this engine's socket of the frame's slot. The engine offers the
// mechanisms (take frames from a socket's ring and do the UDP work, send,
// refill, reclaim); when to use them is the scheduler's business.
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
#include "lrp/neighbour.h"
#include "lrp/netdev.h"
#include "lrp/result.h"
#include "lrp/shed_votes.h"
#include "lrp/udp_frame.h"
#include "lrp/umem.h"
#include "lrp/xdp_program.h"

struct xdp_statistics;

namespace lrp {

using SlotId = uint16_t;

struct EngineConfig {
  std::string ifname;
  uint32_t queue = 0;
  UmemConfig umem;
  uint32_t rx_size = 1024;
  uint32_t tx_size = 1024;
  ParseOptions parse;
};

struct SocketOptions {
  uint32_t held_cap = 512;  // frames the socket's owner may hold at once
  uint32_t tx_cap = 256;    // frames the socket may have in flight for transmit
};

// A received datagram still in its UMEM frame; give it back with release().
// `queue` names the engine (receive queue) whose UMEM holds the frame.
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
  std::array<std::atomic<uint64_t>, static_cast<size_t>(DropReason::Count)> invalid{};
  std::atomic<uint64_t> held_cap_reached{0};  // visits cut short by the held-frames cap
  std::atomic<uint64_t> sent{0};
  std::atomic<uint64_t> sent_bytes{0};
  std::atomic<uint64_t> send_would_block{0};
  std::atomic<uint64_t> completed{0};
};

inline void bump(std::atomic<uint64_t>& c, uint64_t n = 1) {
  c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

struct ProcessResult {
  size_t taken = 0;      // frames taken from the RX ring
  size_t delivered = 0;  // valid datagrams written to out
};

class Engine {
 public:
  // Opens the engine of config.queue: its UMEM and the anchor socket that
  // owns the UMEM's rings. `program` is the interface's XDP program and
  // `shed` its shed flags, both outliving the engine; `info` gives the
  // interface's index and MAC.
  static Result<std::unique_ptr<Engine>> open(const EngineConfig& config, XdpProgram& program,
                                              ShedVotes& shed, const InterfaceInfo& info);
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

  // Queues one UDP datagram on the socket's TX ring. `from` overrides the
  // source address (needed for sockets bound to any address). EAGAIN: TX ring
  // or the socket's transmit budget is full; reclaim, flush and retry.
  // ETIMEDOUT: the budget stayed full with no completion for a second (link
  // down or device gone).
  Status send(SlotId slot, const Endpoint& to, std::span<const uint8_t> payload,
              const IpAddress* from = nullptr);
  // Kicks the kernel to transmit what is queued (copy mode sends only when
  // kicked, a bounded number of frames per kick).
  Status flush(SlotId slot);

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

  XdpProgram& program() { return program_; }
  FramePool& frames() { return *pool_; }
  const EngineConfig& config() const { return config_; }
  uint32_t queue() const { return config_.queue; }
  int ifindex() const { return ifindex_; }
  // The fd that wakes on fill-ring need-wakeup (the first socket of the UMEM).
  int anchor_fd() const;

 private:
  struct Socket;
  Engine(XdpProgram& program, ShedVotes& shed);
  Status open_anchor();
  Socket* socket(SlotId slot) const;
  Result<IpAddress> source_for(const Socket& s, const Endpoint& to, const IpAddress* from) const;

  EngineConfig config_;
  int ifindex_ = 0;
  std::array<uint8_t, 6> mac_{};
  // Replaced whole when the interface's addresses change; senders read a snapshot.
  std::atomic<std::shared_ptr<const std::vector<IpAddress>>> addresses_;
  XdpProgram& program_;
  ShedVotes& shed_;
  std::unique_ptr<Umem> umem_;
  std::unique_ptr<FramePool> pool_;
  std::unique_ptr<Socket> anchor_;
  std::array<std::unique_ptr<Socket>, LRP_MAX_SLOTS> sockets_;
  mutable std::mutex control_mutex_;  // open/close sockets
  std::mutex fill_mutex_;             // one writer on the shared fill ring
  std::mutex comp_mutex_;             // one reader on the shared completion ring
  NeighbourTable neighbours_;
  std::mutex neighbour_mutex_;
};

}  // namespace lrp
