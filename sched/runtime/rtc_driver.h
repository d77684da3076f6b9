// Run to completion (the LRP way): the thread that calls receive does its
// own application's protocol work, so the work happens in the receiver's
// context and only when it asks for results. It waits through the wait
// policy, on its application's own sockets. A warden sheds applications
// that stopped receiving.
#pragma once

#include "sched/runtime/driver.h"
#include "sched/runtime/shed_warden.h"

namespace lrp::sched {

class RunToCompletionDriver final : public SchedulerDriver {
 public:
  explicit RunToCompletionDriver(Scheduler& s) : s_(s), warden_(s) {}
  Status start() override;
  void stop() override;
  size_t receive(Scheduler::App& a, std::span<Datagram> out, int timeout_ms) override;
  int ready_fd(const Scheduler::App& a) const override;

 private:
  Scheduler& s_;
  ShedWarden warden_;
};

}  // namespace lrp::sched
