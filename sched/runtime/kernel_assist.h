// The kernel's own help for waiting on a queue, used automatically where it
// exists:
//   - preferred busy polling (SO_PREFER_BUSY_POLL, SO_BUSY_POLL_BUDGET) on
//     the queue's AF_XDP sockets, so a look at the rings also runs the
//     device's NAPI poll in the waiting thread;
//   - IRQ suspension (Linux 6.13): the queue's NAPI gets defer-hard-irqs,
//     gro-flush-timeout and irq-suspend-timeout through netdev netlink, and
//     the waiter's epoll sets get busy-poll parameters (EPIOCSPARAMS), so
//     the device's interrupts stay off while the waiter keeps finding work.
// All of it needs the queue's NAPI id: from netdev queue-get, else the
// socket's SO_INCOMING_NAPI_ID once a packet arrived. A device without one
// (veth's AF_XDP copy mode reports 0) gets none of it, and that is said once
// per interface on stderr and shown in EngineCounters::kernel_assist.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "lrp/engine.h"
#include "sched/policy/wait_policy.h"
#include "sched/runtime/counters.h"
#include "sched/runtime/netdev_napi.h"

namespace lrp::sched {

const char* to_string(KernelAssist assist);

class KernelAssistant {
 public:
  // enabled: use the kernel's help when found; force_busy_poll: busy-poll
  // the sockets even before (or without) a NAPI id, as asked by the user.
  KernelAssistant(Engine& engine, const WaitConfig& wait, uint32_t budget, bool enabled,
                  bool force_busy_poll, EngineCounters& counters);
  // Puts back the NAPI settings it changed.
  ~KernelAssistant();
  KernelAssistant(const KernelAssistant&) = delete;
  KernelAssistant& operator=(const KernelAssistant&) = delete;

  // Asks netdev netlink for the queue's NAPI (once, when the first socket
  // is served). True when that settled the level.
  bool probe_queue();
  // A socket has delivered its first packet: its SO_INCOMING_NAPI_ID
  // decides if nothing did yet. True when the level was settled now.
  bool on_first_packet(SlotId slot);
  bool settled() const { return level() != KernelAssist::Unknown; }
  KernelAssist level() const { return level_.load(std::memory_order_relaxed); }
  uint32_t napi_id() const { return napi_; }
  // Whether looks at the rings should also drive the device's NAPI.
  bool busy_polling() const { return force_busy_poll_ || level() >= KernelAssist::BusyPoll; }

  // Applies the current level to a socket and to an epoll set a waiter
  // sleeps on (no-ops below BusyPoll).
  Status apply_socket(SlotId slot);
  void apply_epoll(int epfd);
  // What was found, in one line.
  const std::string& summary() const { return summary_; }

 private:
  void settle(uint32_t napi, const std::string& source);
  void report();

  Engine& engine_;
  WaitConfig wait_;
  uint32_t budget_;
  bool enabled_;
  bool force_busy_poll_;
  EngineCounters& counters_;
  // Written under the scheduler's lock, read by metrics and tests too.
  std::atomic<KernelAssist> level_{KernelAssist::Unknown};
  uint32_t napi_ = 0;
  bool probed_ = false;
  bool restore_ = false;
  NapiSettings saved_;
  bool saved_irq_suspend_ = false;
  std::string summary_;
};

}  // namespace lrp::sched
