// A waiter driven by the wait policy in simulated time: arrivals from a
// schedule, a look that costs `look_cost` and takes everything that has
// arrived (up to `batch`), work that costs `item_cost` per item, sleeps that
// cost `wake_cost` of CPU and wake `wake_latency` late. What comes out is
// what an operator and a client would see: CPU per item, how items were
// batched, and how long each waited.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "sched/policy/clock.h"
#include "sched/policy/wait_policy.h"
#include "tests/sched_policy/simulated_engine.h"

namespace lrp::sched::test {

struct WaiterCosts {
  Nanos look_cost = 100;
  Nanos item_cost = 1'000;
  Nanos wake_cost = 4'000;  // CPU per sleep (timer or event)
  Nanos wake_latency = 5'000;
  size_t batch = 64;
};

// Evenly paced arrivals, or Poisson ones with the same mean.
inline std::vector<Nanos> paced_arrivals(double rate, Nanos duration) {
  std::vector<Nanos> out;
  const double gap = 1e9 / rate;
  for (double t = gap; t < static_cast<double>(duration); t += gap)
    out.push_back(static_cast<Nanos>(t));
  return out;
}

inline std::vector<Nanos> poisson_arrivals(double rate, Nanos duration, uint64_t seed) {
  DeterministicRandom random(seed);
  std::vector<Nanos> out;
  const double mean = 1e9 / rate;
  for (double t = 0;;) {
    t += -std::log(1.0 - random.unit()) * mean;
    if (t >= static_cast<double>(duration)) break;
    out.push_back(static_cast<Nanos>(t));
  }
  return out;
}

struct WaitRun {
  size_t items = 0;
  Nanos cpu = 0;   // looks, work, and the CPU of sleeping
  Nanos spin = 0;  // looks that found nothing, back to back
  Nanos elapsed = 0;
  size_t work_looks = 0;     // looks that found something
  std::vector<Nanos> waits;  // arrival to the end of the look that took it
  // Regime changes after the first `warmup` of the run.
  uint64_t regime_changes_after_warmup = 0;
  std::vector<WaitRegime> regimes_seen_after_warmup;
  WaitCounters counters;

  double cpu_per_item() const { return items ? static_cast<double>(cpu) / items : 0; }
  double items_per_look() const { return work_looks ? static_cast<double>(items) / work_looks : 0; }
  Nanos wait_percentile(double p) const {
    if (waits.empty()) return 0;
    std::vector<Nanos> v = waits;
    std::sort(v.begin(), v.end());
    return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
  }
};

// A closed loop: clients that each send their next request `round_trip`
// after the answer to the previous one (an answer leaves when its work ends).
struct ClosedLoop {
  size_t clients = 1;
  Nanos round_trip = 0;
  size_t requests = 0;  // in all
};

inline WaitRun simulate_waiter(WaitPolicy& policy, std::vector<Nanos> arrivals,
                               const WaiterCosts& costs, Nanos warmup,
                               const ClosedLoop& loop = {}) {
  WaitRun run;
  FakeClock clock(0);
  size_t next = 0;  // first arrival not yet taken
  size_t requested = arrivals.size();
  if (loop.round_trip > 0)
    for (; requested < std::min(loop.clients, loop.requests); ++requested)
      arrivals.push_back(static_cast<Nanos>(requested) * loop.round_trip / loop.clients);
  Nanos end = arrivals.empty() ? 0 : arrivals.back() + 1'000'000;
  uint64_t changes_at_warmup = 0;
  bool warm = false;
  auto note_regime = [&] {
    if (!warm && clock.now() >= warmup) {
      warm = true;
      changes_at_warmup = policy.counters().regime_changes;
    }
    if (warm && (run.regimes_seen_after_warmup.empty() ||
                 run.regimes_seen_after_warmup.back() != policy.regime()))
      run.regimes_seen_after_warmup.push_back(policy.regime());
  };
  while (clock.now() < end) {
    // A look: takes what has arrived, then works on it.
    clock.advance(costs.look_cost);
    run.cpu += costs.look_cost;
    size_t n = 0;
    while (next < arrivals.size() && arrivals[next] <= clock.now() && n < costs.batch) {
      ++n;
      ++next;
    }
    const Nanos work = static_cast<Nanos>(n) * costs.item_cost;
    clock.advance(work);
    run.cpu += work;
    for (size_t i = next - n; i < next; ++i) run.waits.push_back(clock.now() - arrivals[i]);
    for (size_t i = 0; i < n && loop.round_trip > 0 && requested < loop.requests;
         ++i, ++requested) {
      arrivals.push_back(clock.now() + loop.round_trip);
      end = arrivals.back() + 1'000'000;
    }
    run.items += n;
    if (n > 0) ++run.work_looks;
    policy.on_poll(clock.now(), n);
    note_regime();
    if (n > 0) continue;
    run.spin += costs.look_cost;
    const WaitStep step = policy.next(clock.now());
    note_regime();
    switch (step.kind) {
      case WaitStep::Kind::Poll:
        break;
      case WaitStep::Kind::Timer:
        run.cpu += costs.wake_cost;
        clock.advance(step.duration + costs.wake_latency);
        policy.on_wake(clock.now());
        break;
      case WaitStep::Kind::Event: {
        run.cpu += costs.wake_cost;
        const Nanos limit = clock.now() + step.duration;
        const Nanos wake = next < arrivals.size()
                               ? std::max(clock.now(), arrivals[next]) + costs.wake_latency
                               : limit;
        clock.set(std::min(wake, limit));
        policy.on_wake(clock.now());
        break;
      }
    }
  }
  run.elapsed = clock.now();
  run.regime_changes_after_warmup = policy.counters().regime_changes - changes_at_warmup;
  run.counters = policy.counters();
  return run;
}

}  // namespace lrp::sched::test
