// Run to completion has no engine thread watching the applications: an
// application that stops receiving leaves its frames in its rings, where
// nobody works on them. The warden applies the shed rule to those rings
// every few milliseconds while any ring holds frames, and otherwise sleeps
// on the sockets (the engine's epoll set, unused in this threading), so an
// idle server stays idle. It does no protocol work.
#pragma once

#include <atomic>
#include <thread>

#include "sched/runtime/scheduler.h"

namespace lrp::sched {

class ShedWarden {
 public:
  explicit ShedWarden(Scheduler& s) : s_(s) {}
  ~ShedWarden() { stop(); }
  void start();
  void stop();

 private:
  void loop();

  Scheduler& s_;
  std::thread thread_;
  std::atomic<bool> running_{false};
};

}  // namespace lrp::sched
