// A dedicated engine thread per queue (the DLibOS way): it does every
// application's protocol work in weighted fair passes and hands the results
// over through each application's queue and doorbell (or its channel, for
// an application in another process). The engine thread and the receiving
// threads all wait through the wait policy: the engine on its sockets,
// doorbells and channels, a receiver on its queue's doorbell.
#pragma once

#include <atomic>
#include <memory>
#include <thread>

#include "sched/runtime/driver.h"
#include "sched/runtime/waiter.h"

namespace lrp::sched {

class DedicatedDriver final : public SchedulerDriver {
 public:
  explicit DedicatedDriver(Scheduler& s);
  ~DedicatedDriver() override;
  Status start() override;
  void stop() override;
  size_t receive(Scheduler::App& a, std::span<Datagram> out, int timeout_ms) override;
  int ready_fd(const Scheduler::App& a) const override;

 private:
  void loop();

  Scheduler& s_;
  Waiter waiter_;
  std::thread thread_;
  std::atomic<bool> running_{false};
};

}  // namespace lrp::sched
