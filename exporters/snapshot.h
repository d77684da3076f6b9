// What one scrape reads from an engine and its scheduler: plain numbers copied
// out of the live counters. Turning them into metric families is then a pure
// function that tests drive with made-up values.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "bpf/lrp_shared.h"

namespace lrp::exporters {

struct HistogramSnapshot {
  std::vector<uint64_t> counts;      // per bucket, not cumulative
  std::vector<double> upper_bounds;  // same size, increasing; the last may be +Inf
  double sum = 0;
};

struct NamedCount {
  std::string name;
  uint64_t value = 0;
};

// The kernel's XDP_STATISTICS of one AF_XDP socket.
struct KernelSocketStats {
  uint64_t rx_dropped = 0;  // copy mode: no free frame in the fill ring
  uint64_t rx_invalid_descs = 0;
  uint64_t tx_invalid_descs = 0;
  uint64_t rx_ring_full = 0;
  uint64_t rx_fill_ring_empty_descs = 0;  // per UMEM, not per socket
  uint64_t tx_ring_empty_descs = 0;
};

struct SocketSnapshot {
  std::string app;     // empty without a scheduler
  std::string socket;  // "7100/ipv4", or "198.18.0.1:7100" for a bound address
  uint32_t slot = 0;
  uint64_t delivered = 0;
  uint64_t delivered_bytes = 0;
  std::vector<NamedCount> invalid;  // by drop reason
  uint64_t held_cap_reached = 0;
  uint64_t partial_checksum = 0;
  uint64_t sent = 0;
  uint64_t sent_bytes = 0;
  uint64_t send_would_block = 0;
  uint64_t completed = 0;
  uint64_t rx_ring_frames = 0;
  std::optional<KernelSocketStats> kernel;
  std::optional<std::array<uint64_t, LRP_SLOT_COUNTER_MAX>> xdp;
};

struct AppSnapshot {
  std::string name;
  uint32_t weight = 1;
  uint64_t charged_ns = 0;
  uint64_t visits = 0;
  uint64_t frames = 0;
  uint64_t queued_total = 0;  // AppCounters::delivered
  uint64_t queue_full_drops = 0;
  uint64_t skipped_full = 0;
  uint64_t shed_raised = 0;
  uint64_t shed_lowered = 0;
  bool shed = false;
  uint64_t queued_now = 0;
  HistogramSnapshot batch_size;
  HistogramSnapshot queue_depth;
};

struct SchedulerSnapshot {
  std::string mode;       // adaptive, interrupt, poll, eager
  std::string threading;  // rtc, dedicated
  bool polling = false;
  uint64_t passes = 0;
  uint64_t empty_passes = 0;
  uint64_t wakeups = 0;
  uint64_t sleeps = 0;
  uint64_t deferrals = 0;
  uint64_t yields = 0;
  uint64_t answer_spins = 0;
  uint64_t answer_misses = 0;
  uint64_t switches_to_poll = 0;
  uint64_t switches_to_interrupt = 0;
  uint64_t idle_poll_ns = 0;
  std::optional<uint64_t> engine_cpu_ns;  // dedicated threading only
  std::vector<AppSnapshot> apps;
};

struct FrameSnapshot {
  uint64_t free = 0;
  uint64_t fill = 0;
  uint64_t rx = 0;
  uint64_t held = 0;
  uint64_t tx = 0;
  uint64_t violations = 0;
};

struct EngineSnapshot {
  std::string interface;
  uint32_t queue = 0;
  FrameSnapshot frames;
  std::optional<uint64_t> fill_ring_empty_descs;  // from any open socket: it is per UMEM
  std::optional<std::array<uint64_t, LRP_G_COUNTER_MAX>> xdp_global;
  std::vector<SocketSnapshot> sockets;
  std::optional<SchedulerSnapshot> scheduler;
  uint64_t read_errors = 0;  // since the exporter started
};

}  // namespace lrp::exporters
