// One adaptive spinner per core. Threads that wait through the wait policy
// share the CPUs; a spin is worth it only while no other thread wants the
// core, so the one thread that is awake on a core holds its seat: only the
// seat's holder may spin in adaptive mode. (Poll mode spins on every
// thread: each yields the core after an empty look, which costs the others
// less than a wake-up.) The others sleep until an arrival wakes them,
// registered as sleepers of their core; whoever polls on the core
// looks at them (pure_poll) and yields the core when one has work, so it
// runs at once instead of after a slice. A seat not touched for a while
// (its holder went off to do something else) is free again.
// Per process: threads of other processes are the kernel's business.
#pragma once

#include <cstdint>

#include "sched/runtime/pollable.h"

namespace lrp::sched {

class CoreSeats {
 public:
  static CoreSeats& instance();

  // Called at every poll: takes the caller's core's seat when it is free or
  // stale; true when the caller holds it (and so may spin).
  bool claim();
  // Gives the caller's seat up (before it sleeps).
  void leave();
  // The caller sleeps on its core until awake(); meanwhile others may call
  // p.pure_poll() (p must stay valid until awake() returns).
  void sleeping(Pollable& p);
  void awake(Pollable& p);
  // Yields the core when a sleeper of the caller's core has work; returns
  // whether it did. The caller must hold no lock a pure_poll() might take.
  bool hand_off();
  // Sleepers registered on a CPU (tests).
  int sleepers(int cpu) const;
  // Frees the seat of `cpu` if `token` holds it (a thread that ends).
  void release(int cpu, uint64_t token);

 private:
  CoreSeats();
  struct Core;
  Core* core(int cpu) const;

  Core* cores_;
  int count_;
};

}  // namespace lrp::sched
