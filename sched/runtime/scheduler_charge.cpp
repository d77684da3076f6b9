// The scheduler's core, part three: charging protocol work to applications.
// The dedicated engine thread attributes every stretch of its CPU time
// (ContiguousAttribution); a run-to-completion receiver's visits are timed
// and capped by the CPU its thread had (CappedAttribution).
#include "sched/runtime/scheduler.h"
#include "sched/runtime/scheduler_app.h"

namespace lrp::sched {

// Splits the thread CPU of the window among the applications and idle.
void Scheduler::close_window(Nanos wall) {
  const Nanos cpu = thread_cpu_ns();
  attribution_.close(wall, cpu);
  for (const auto& a : apps_)
    if (a != nullptr)
      bump(a->counters.charged_ns, static_cast<uint64_t>(attribution_.charged(a->id)));
  bump(counters_.idle_poll_ns, static_cast<uint64_t>(attribution_.idle()));
  engine_cpu_ns_.store(cpu, std::memory_order_relaxed);
}

// Identifies the calling thread without a system call.
static thread_local const char this_thread = 0;

// Run to completion: visits are timed on the monotonic clock and the window's
// charge capped by the CPU the receiving thread really had (one system call
// per window instead of two per visit).
void Scheduler::charge_rtc(App& a, Nanos start, Nanos end) {
  if (a.rtc_thread != &this_thread) {
    // A different thread's CPU clock: what was pending is charged as timed,
    // and a window on this thread's clock starts after this visit.
    bump(a.counters.charged_ns, static_cast<uint64_t>(a.rtc_charge.pending() + (end - start)));
    a.rtc_thread = &this_thread;
    a.rtc_charge.open(end, thread_cpu_ns());
    return;
  }
  a.rtc_charge.spent(end - start);
  if (a.rtc_charge.due(end))
    bump(a.counters.charged_ns, static_cast<uint64_t>(a.rtc_charge.close(end, thread_cpu_ns())));
}

// Before the receiving thread sleeps, so the charge is current while it waits.
void Scheduler::flush_rtc_charge(App& a) {
  std::lock_guard lock(mutex_);
  if (a.rtc_thread != &this_thread || a.rtc_charge.pending() == 0) return;
  bump(a.counters.charged_ns,
       static_cast<uint64_t>(a.rtc_charge.close(wall_ns(), thread_cpu_ns())));
}

}  // namespace lrp::sched
