// What a waiter polls (the shape of seastar's pollfn): poll() does the work
// that is ready and says how much it did; pure_poll() says whether there is
// any without doing it (cheap, safe from another thread while the owner
// sleeps); around a sleep on arrivals, try_enter_interrupt_mode() arms the
// wake-ups and says false when work arrived meanwhile (then the waiter does
// not sleep), and exit_interrupt_mode() disarms them.
#pragma once

#include <cstddef>
#include <cstdint>

namespace lrp::sched {

class Pollable {
 public:
  virtual ~Pollable() = default;
  virtual size_t poll() = 0;
  virtual bool pure_poll() = 0;
  virtual bool try_enter_interrupt_mode() = 0;
  virtual void exit_interrupt_mode() = 0;
  // Readable in interrupt mode once there is work: an epoll set, or another
  // pollable fd (an eventfd) when wake_fd_is_epoll() says false.
  virtual int wake_fd() const = 0;
  virtual bool wake_fd_is_epoll() const { return true; }
  // After a sleep on an epoll wake_fd() or urgent_fd() that an entry
  // ended: its data.
  virtual void woken_by(uint64_t tag) { (void)tag; }
  // Work that must not wait out a deferral timer (a reply an application
  // has already queued: holding it back only adds to its latency): an epoll
  // set that ends a timer sleep when readable (-1: none, the timer alone).
  // try_arm_urgent() arms it and says false when such work is already there
  // (then the waiter does not sleep); after the sleep, urgent_woken() clears
  // what ended it.
  virtual int urgent_fd() const { return -1; }
  virtual bool try_arm_urgent() { return true; }
  virtual void urgent_woken(uint64_t tag) { woken_by(tag); }
  // After poll() did work: whether that work will likely be answered
  // through this Pollable soon (an engine that delivered to an application
  // whose replies it sends). The waiter then spins about a wake-up's cost
  // for the answer, rather than sleeping and being woken by it.
  virtual bool answer_due() const { return false; }
  // After poll() did work: whether that work was such an answer.
  virtual bool answered() const { return false; }
  // Around any sleep, timer or interrupt (CPU accounting).
  virtual void before_sleep() {}
  virtual void after_sleep() {}
};

}  // namespace lrp::sched
