// An application as the scheduler's core and its drivers see it (private to
// sched/runtime).
#pragma once

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <memory>
#include <vector>

#include "sched/runtime/scheduler.h"
#include "sched/runtime/waiter.h"

namespace lrp::sched {

struct Scheduler::App {
  AppId id = 0;
  AppSpec spec;
  std::vector<SlotId> slots;
  std::vector<SlotId> first_packet_pending;  // slots whose NAPI id is still to be read
  size_t next_socket = 0;                    // round-robin among the application's sockets
  SpscRing<Datagram> queue;
  int doorbell_fd = -1;   // dedicated: readable when datagrams are queued
  int rtc_epoll_fd = -1;  // rtc: readable when one of its sockets has frames
  bool armed = true;      // its sockets are in the engine's epoll set
  ShedController shed;
  AppCounters counters;
  std::atomic<bool> was_full{false};
  CappedAttribution rtc_charge;         // run to completion: the receiving thread's visits
  const void* rtc_thread = nullptr;     // whose CPU clock rtc_charge's window is on
  std::unique_ptr<AppChannel> channel;  // an application in another process
  std::unique_ptr<Waiter> waiter;       // how its receiving thread waits

  App(AppId id_, const AppSpec& s, const SchedulerConfig& config)
      : id(id_),
        spec(s),
        queue(std::bit_ceil(std::max<uint32_t>(s.queue_bound, 2))),
        shed(config.shed) {}
  ~App() {
    if (doorbell_fd >= 0) close(doorbell_fd);
    if (rtc_epoll_fd >= 0) close(rtc_epoll_fd);
  }
  size_t room() const {
    const size_t used = queue.size();
    return used >= spec.queue_bound ? 0 : spec.queue_bound - used;
  }
};

// Real time for timing visits (a vDSO read), even when tests drive the
// policy clock by hand: it measures real CPU cost.
Nanos wall_ns();
// CPU time of the calling thread (a system call).
Nanos thread_cpu_ns();

}  // namespace lrp::sched
