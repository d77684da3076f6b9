// What the scheduler counts, per application and per engine (queue), for
// metrics and tests. Relaxed atomics: one writer each where possible,
// readers on any thread.
#pragma once

#include <atomic>
#include <cstdint>

#include "sched/runtime/histogram.h"

namespace lrp::sched {

// Per-application counters; single writer (the thread doing its protocol
// work), read by metrics.
struct AppCounters {
  std::atomic<uint64_t> charged_ns{0};
  std::atomic<uint64_t> visits{0};
  std::atomic<uint64_t> frames{0};            // taken from the rings
  std::atomic<uint64_t> delivered{0};         // into the receive queue
  std::atomic<uint64_t> queue_full_drops{0};  // eager only: dropped after the work
  std::atomic<uint64_t> skipped_full{0};      // passes that skipped it for lack of room
  std::atomic<uint64_t> shed_raised{0};
  std::atomic<uint64_t> shed_lowered{0};
  std::atomic<bool> shed{false};
  Pow2Histogram batch_size;   // datagrams delivered per visit
  Pow2Histogram queue_depth;  // receive-queue occupancy seen at each visit
};

// What the kernel offers the waiting of this engine's queue (see
// kernel_assist.h), in increasing order.
enum class KernelAssist : uint8_t {
  Unknown,     // not found out yet (no packet has arrived)
  None,        // no NAPI id: lrp's own wait policy only
  BusyPoll,    // preferred busy polling on the queue's NAPI
  IrqSuspend,  // and IRQ suspension while the waiter keeps finding work
};

struct EngineCounters {
  std::atomic<uint64_t> passes{0};
  std::atomic<uint64_t> empty_passes{0};
  std::atomic<uint64_t> wakeups{0};
  std::atomic<uint64_t> sleeps{0};     // sleeps until an arrival (interrupt mode)
  std::atomic<uint64_t> deferrals{0};  // timer sleeps that let arrivals batch
  std::atomic<uint64_t> switches_to_poll{0};
  std::atomic<uint64_t> switches_to_interrupt{0};
  std::atomic<uint64_t> yields{0};         // stepped aside for a sleeper with work on its core
  std::atomic<uint64_t> answer_spins{0};   // spins for an answer due through the waiter
  std::atomic<uint64_t> answer_misses{0};  // of those, ended without the answer
  std::atomic<uint64_t> idle_poll_ns{0};   // passes that found nothing: charged to nobody
  std::atomic<uint64_t> sleep_ns{0};       // CPU spent going to sleep and waking up
  std::atomic<bool> polling{false};
  std::atomic<uint8_t> regime{0};  // WaitRegime of the last waiter to decide
  std::atomic<int64_t> gap_ns{0};  // its learned time between arrivals
  std::atomic<uint64_t> busy_poll_calls{0};
  std::atomic<KernelAssist> kernel_assist{KernelAssist::Unknown};
  // The device has no NAPI id: the kernel cannot busy-poll it.
  std::atomic<bool> busy_poll_unavailable{false};
};

}  // namespace lrp::sched
