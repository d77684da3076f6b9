// How anything in lrp waits for work: the dedicated engine thread, a
// receiving thread doing its own protocol work, an application waiting for
// what an engine thread delivers, a receive over several queues, and the
// preload library's blocking calls. One policy, so every waiter spends CPU
// in proportion to load:
//   - sparse arrivals: sleep until an arrival wakes the waiter (interrupt);
//   - arrivals closer together than a sleep and wake-up cost (shared by the
//     arrivals a deferral would gather, when deferral is on): spin for about
//     two gaps, then sleep (the spin budget follows the learned gap);
//   - medium load: sleep on a short timer without being woken, so arrivals
//     batch (the idea of NAPI's deferred hard interrupts), bounded by a
//     latency budget; a timer look that finds nothing twice goes back to
//     sleeping on arrivals, and so does a waiter whose timers gather one
//     arrival each (a client that waits for every answer before it asks
//     again: the timer only adds its length to each round trip);
//   - saturation (hardly any idle time left): poll without sleeping;
//   - after work that will be answered through the waiter (an engine that
//     delivered to an application whose replies it sends): spin up to a
//     wake-up's cost for the answer, as long as answers mostly come within
//     it, instead of sleeping and being woken by the answer.
// Every threshold has a hysteresis band above it, so a steady rate near one
// does not flap between regimes. Pure: time comes in as a parameter.
#pragma once

#include <cstddef>
#include <cstdint>

#include "sched/policy/arrival_gap.h"
#include "sched/policy/clock.h"
#include "sched/policy/idle_share.h"

namespace lrp::sched {

enum class WaitMode : uint8_t {
  Interrupt,  // sleep on arrivals after every look that finds nothing
  Poll,       // never sleep
  Adaptive,   // by load, as above
};

struct WaitConfig {
  // CPU time one sleep and wake-up costs the waiter (system calls and two
  // context switches). Spinning pays while the next arrival is expected
  // sooner. Learned at run time where the waiter measures it.
  Nanos wake_cost = 4'000;
  // Longest spin before sleeping, when not saturated.
  Nanos spin_cap = 20'000;
  // Deferral: an arrival waits at most this long for others to join its
  // batch (the latency it may add), aiming at defer_batch per look.
  Nanos defer_max = 40'000;
  uint32_t defer_batch = 8;
  // Deferral starts when arrivals come closer than this (so a window
  // gathers more than one).
  Nanos defer_below = 25'000;
  // Off for a waiter whose arrivals are already batched upstream (an
  // application fed by a deferring engine thread): it sleeps until they come.
  bool defer = true;
  // Timer looks in a row that found nothing before sleeping on arrivals.
  uint32_t defer_misses = 2;
  // Deferral goes on while at least this share of its timer looks gather
  // more than one arrival (a moving average over about eight); below, it is
  // tried again once per defer_retry.
  double defer_min_batched = 0.1;
  Nanos defer_retry = 10'000'000;
  // Spinning for answers goes on while at least this share of those spins
  // (a moving average over about eight) ended with an answer, not with
  // nothing or an arrival; below, it is tried again once per defer_retry.
  double answer_min_hits = 0.5;
  // Saturation: idle share below which the waiter polls without sleeping,
  // and above which it stops.
  double saturated_below = 0.05;
  double unsaturated_above = 0.20;
  Nanos idle_memory = 2'000'000;
  // A regime entered below a gap threshold is left only above (1 + band)
  // times it.
  double band = 0.5;
  // Arrivals the gap estimate remembers.
  double gap_memory = 128;
  // Longest single sleep (the waiter re-checks its own stop conditions).
  Nanos max_sleep = 100'000'000;
};

// What a look's work means for the next wait, where the waiter knows.
struct PollNotes {
  bool awaits_answer = false;  // it will likely be answered through the waiter soon
  bool answers = false;        // it was such an answer
};

enum class WaitRegime : uint8_t { Sleep, Defer, Spin, Saturated };
const char* to_string(WaitRegime regime);

// What a waiter does after a look that found nothing.
struct WaitStep {
  enum class Kind : uint8_t {
    Poll,   // look again now
    Timer,  // sleep `duration` without being woken by arrivals, then look
    Event,  // sleep until an arrival wakes the waiter, `duration` at most
  };
  Kind kind = Kind::Poll;
  Nanos duration = 0;
};

struct WaitCounters {
  uint64_t polls = 0;
  uint64_t empty_polls = 0;
  uint64_t timer_sleeps = 0;
  uint64_t event_sleeps = 0;
  uint64_t wakeups = 0;  // event sleeps ended (by an arrival or their time)
  uint64_t regime_changes = 0;
  uint64_t switches_to_poll = 0;       // left an event sleep
  uint64_t switches_to_interrupt = 0;  // entered an event sleep
  uint64_t answer_spins = 0;           // spins for an answer begun
  uint64_t answer_misses = 0;          // of those, ended without it
};

class WaitPolicy {
 public:
  explicit WaitPolicy(WaitMode mode, const WaitConfig& config = {});

  // After every look at the queues: how many items it found (0: none) and
  // what they were.
  void on_poll(Nanos now, size_t items, PollNotes notes = {});
  // After a look that found nothing: what to do next. Without may_spin
  // (another thread is awake on the waiter's core) adaptive mode sleeps
  // instead of spinning; poll mode spins regardless (the waiter yields the
  // core after each empty look, so pollers on one core take turns).
  WaitStep next(Nanos now, bool may_spin = true);
  // A sleep (timer or event) ended.
  void on_wake(Nanos now);
  // The CPU the waiter measured for one event sleep and wake-up.
  void learn_wake_cost(Nanos cpu);

  WaitMode mode() const { return mode_; }
  WaitRegime regime() const { return regime_; }
  // Whether the waiter is awake (not in an event sleep): the engine's
  // "polling" state for metrics.
  bool polling() const { return !event_sleeping_; }
  Nanos gap() const { return gap_.gap(); }
  Nanos wake_cost() const { return wake_cost_; }
  // How long the waiter spins after its last work before it sleeps (or
  // defers); saturated: for as long as it stays saturated.
  Nanos spin_budget() const;
  // Length of the next deferral timer, counted from the last work.
  Nanos defer_window() const;
  double idle_share(Nanos now) const;
  const WaitConfig& config() const { return config_; }
  const WaitCounters& counters() const { return counters_; }

 private:
  void classify(Nanos now);
  bool spin_for_answer(Nanos now, Nanos idle_for);
  void set_regime(WaitRegime r);

  WaitMode mode_;
  WaitConfig config_;
  ArrivalGap gap_;
  IdleShare idle_;
  WaitRegime regime_ = WaitRegime::Sleep;
  Nanos wake_cost_;
  bool working_ = false;  // the last look found work
  Nanos since_ = 0;       // start of the current working or idle stretch
  Nanos last_work_ = -1;  // the last look that found work
  bool event_sleeping_ = false;
  bool after_timer_ = false;      // the next look follows a timer sleep
  uint32_t misses_ = 0;           // timer looks in a row that found nothing
  double defer_batched_ = 1;      // share of timer looks that found several arrivals
  Nanos last_timer_ = -1;         // when the last timer sleep began
  bool answer_due_ = false;       // the last work awaits an answer
  bool answer_spinning_ = false;  // spinning for it now
  double answer_hits_ = 1;        // share of answer spins that got the answer
  Nanos last_answer_miss_ = -1;   // when an answer spin last ended without it
  WaitCounters counters_;
};

}  // namespace lrp::sched
