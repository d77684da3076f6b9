#include "sched/runtime/rtc_driver.h"

#include <mutex>

#include "sched/runtime/scheduler_app.h"

namespace lrp::sched {

// One application's sockets, polled by its receiving thread.
class RtcPoll final : public Pollable {
 public:
  RtcPoll(Scheduler& s, Scheduler::App& a, std::span<Datagram> out) : s_(s), a_(a), out_(out) {}
  size_t poll() override { return s_.visit_rtc(a_, out_); }
  // From another thread while the receiver sleeps: never blocks on the
  // scheduler (a busy lock means "do not know", so no hand-off).
  bool pure_poll() override {
    std::unique_lock lock(s_.mutex_, std::try_to_lock);
    return lock.owns_lock() && s_.pending_frames(a_) > 0;
  }
  bool try_enter_interrupt_mode() override {
    // The charge is made current before the thread sleeps.
    s_.flush_rtc_charge(a_);
    return true;  // its epoll set is level-triggered on the rings: no arming
  }
  void exit_interrupt_mode() override {}
  int wake_fd() const override { return a_.rtc_epoll_fd; }

 private:
  Scheduler& s_;
  Scheduler::App& a_;
  std::span<Datagram> out_;
};

Status RunToCompletionDriver::start() {
  warden_.start();
  return {};
}

void RunToCompletionDriver::stop() {
  warden_.stop();
}

size_t RunToCompletionDriver::receive(Scheduler::App& a, std::span<Datagram> out, int timeout_ms) {
  if (a.waiter == nullptr)
    a.waiter = std::make_unique<Waiter>(wait_mode(s_.config_.mode), s_.config_.wait, s_.clock_,
                                        &s_.counters_);
  RtcPoll poll(s_, a, out);
  return a.waiter->wait(poll, receive_deadline(s_.clock_, timeout_ms));
}

int RunToCompletionDriver::ready_fd(const Scheduler::App& a) const {
  return a.rtc_epoll_fd;
}

}  // namespace lrp::sched
