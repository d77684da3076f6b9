#include "sched/policy/wait_policy.h"

#include <algorithm>

namespace lrp::sched {

const char* to_string(WaitRegime regime) {
  switch (regime) {
    case WaitRegime::Sleep:
      return "sleep";
    case WaitRegime::Defer:
      return "defer";
    case WaitRegime::Spin:
      return "spin";
    case WaitRegime::Saturated:
      return "saturated";
  }
  return "unknown";
}

// Before anything arrived the gap is taken as long (sparse), and intervals
// count as at most a few deferral windows: beyond that every gap means the
// same to the policy.
WaitPolicy::WaitPolicy(WaitMode mode, const WaitConfig& config)
    : mode_(mode),
      config_(config),
      gap_(4 * config.defer_max, 4 * config.defer_max, config.gap_memory),
      idle_(config.idle_memory),
      regime_(mode == WaitMode::Poll ? WaitRegime::Saturated : WaitRegime::Sleep),
      wake_cost_(config.wake_cost) {}

void WaitPolicy::set_regime(WaitRegime r) {
  if (r == regime_) return;
  regime_ = r;
  ++counters_.regime_changes;
}

// The regime for the learned gap: a regime entered below a threshold is
// left only above (1 + band) times it, so a steady rate near a threshold
// stays on one side.
void WaitPolicy::classify(Nanos now) {
  if (mode_ != WaitMode::Adaptive) return;
  const double share = idle_share(now);
  if (regime_ == WaitRegime::Saturated) {
    if (share <= config_.unsaturated_above) return;
  } else if (share < config_.saturated_below) {
    set_regime(WaitRegime::Saturated);
    return;
  }
  const double g = static_cast<double>(gap_.gap());
  auto below = [&](Nanos limit, bool inside) {
    return g < static_cast<double>(limit) * (inside ? 1 + config_.band : 1);
  };
  // Coming out of saturation the gap is small; the bands still apply.
  const bool was_spin = regime_ == WaitRegime::Spin || regime_ == WaitRegime::Saturated;
  const bool was_defer = was_spin || regime_ == WaitRegime::Defer;
  // Spinning costs the gap per arrival; a deferral's wake-up is shared by
  // the arrivals its window gathers. Spin only where that is dearer.
  const double batch = config_.defer
                           ? std::clamp(static_cast<double>(config_.defer_max) / std::max(g, 1.0),
                                        1.0, static_cast<double>(config_.defer_batch))
                           : 1.0;
  if (below(static_cast<Nanos>(static_cast<double>(wake_cost_) / batch), was_spin)) {
    set_regime(WaitRegime::Spin);
  } else if (below(config_.defer_below, was_defer)) {
    set_regime(WaitRegime::Defer);
  } else {
    set_regime(WaitRegime::Sleep);
  }
}

void WaitPolicy::on_poll(Nanos now, size_t items, PollNotes notes) {
  ++counters_.polls;
  const bool work = items > 0;
  if (work != working_) {
    // A stretch of work or of waiting ended.
    idle_.add(now - since_, /*idle=*/working_ ? false : true);
    since_ = now;
    working_ = work;
  }
  if (after_timer_) {
    misses_ = work ? 0 : misses_ + 1;
    defer_batched_ += ((items > 1 ? 1.0 : 0.0) - defer_batched_) / 8;
    after_timer_ = false;
  }
  if (!work) {
    ++counters_.empty_polls;
    return;
  }
  if (answer_spinning_) {
    // Another arrival instead of the answer: spinning between arrivals is
    // the spin regime's decision, not this one's.
    answer_hits_ += ((notes.answers ? 1.0 : 0.0) - answer_hits_) / 8;
    if (!notes.answers) {
      ++counters_.answer_misses;
      last_answer_miss_ = now;
    }
    answer_spinning_ = false;
  }
  answer_due_ = notes.awaits_answer;
  gap_.observe(last_work_ < 0 ? 4 * config_.defer_max : now - last_work_, items);
  last_work_ = now;
  classify(now);
}

Nanos WaitPolicy::spin_budget() const {
  switch (regime_) {
    case WaitRegime::Saturated:
      return config_.max_sleep;
    case WaitRegime::Spin:
      return std::min(2 * gap_.gap(), config_.spin_cap);
    case WaitRegime::Defer:
    case WaitRegime::Sleep:
      return 0;
  }
  return 0;
}

Nanos WaitPolicy::defer_window() const {
  const Nanos batch = static_cast<Nanos>(config_.defer_batch) * gap_.gap();
  return std::clamp<Nanos>(batch, 1, config_.defer_max);
}

double WaitPolicy::idle_share(Nanos now) const {
  return idle_.share(now - since_, !working_);
}

WaitStep WaitPolicy::next(Nanos now, bool may_spin) {
  const Nanos idle_for = working_ ? 0 : now - since_;
  WaitStep step{WaitStep::Kind::Event, config_.max_sleep};
  switch (mode_) {
    case WaitMode::Poll:
      // Every poller spins, seated or not: the waiter yields the core after
      // each empty look, so pollers sharing a core take turns at every look
      // rather than at time-slice ends, and none pays a wake-up.
      return {WaitStep::Kind::Poll, 0};
    case WaitMode::Interrupt:
      break;
    case WaitMode::Adaptive:
      // Saturation ends when waiting took up enough of the recent time.
      if (regime_ == WaitRegime::Saturated) classify(now);
      if (may_spin && regime_ == WaitRegime::Saturated) return {WaitStep::Kind::Poll, 0};
      if (may_spin && idle_for < spin_budget()) return {WaitStep::Kind::Poll, 0};
      if (may_spin && spin_for_answer(now, idle_for)) return {WaitStep::Kind::Poll, 0};
      const bool defer_pays = defer_batched_ >= config_.defer_min_batched || last_timer_ < 0 ||
                              now - last_timer_ >= config_.defer_retry;
      // Long after the last work the learned gap is stale: the next arrival
      // is not due within a window, so a timer would only look at nothing.
      const bool arrival_due = last_work_ >= 0 && now - last_work_ < 4 * config_.defer_max;
      if (config_.defer && regime_ == WaitRegime::Defer && misses_ < config_.defer_misses &&
          defer_pays && arrival_due) {
        // From the last work: the first arrival after it waits at most the
        // window. A window already spent (slow work) starts afresh, shorter.
        const Nanos window = defer_window();
        const Nanos since_work = last_work_ < 0 ? window : now - last_work_;
        step = {WaitStep::Kind::Timer, std::max(window - since_work, window / 4)};
      }
      break;
  }
  if (step.kind == WaitStep::Kind::Timer) {
    ++counters_.timer_sleeps;
    last_timer_ = now;
    after_timer_ = true;
  } else {
    ++counters_.event_sleeps;
    ++counters_.switches_to_interrupt;
    event_sleeping_ = true;
    misses_ = 0;
  }
  return step;
}

// An answer usually comes sooner than a sleep and wake-up would take; if it
// does not come within that cost, the spin was no dearer than the sleep.
bool WaitPolicy::spin_for_answer(Nanos now, Nanos idle_for) {
  if (!answer_due_) return false;
  const bool pays = answer_hits_ >= config_.answer_min_hits || last_answer_miss_ < 0 ||
                    now - last_answer_miss_ >= config_.defer_retry;
  if (pays && idle_for < wake_cost_) {
    if (!answer_spinning_) ++counters_.answer_spins;
    answer_spinning_ = true;
    return true;
  }
  if (answer_spinning_) {
    answer_hits_ += (0.0 - answer_hits_) / 8;
    ++counters_.answer_misses;
    last_answer_miss_ = now;
    answer_spinning_ = false;
  }
  answer_due_ = false;
  return false;
}

void WaitPolicy::on_wake(Nanos now) {
  (void)now;
  if (!event_sleeping_) return;
  event_sleeping_ = false;
  ++counters_.wakeups;
  ++counters_.switches_to_poll;
}

void WaitPolicy::learn_wake_cost(Nanos cpu) {
  if (cpu <= 0) return;
  const Nanos clamped = std::clamp<Nanos>(cpu, 500, 100'000);
  wake_cost_ += (clamped - wake_cost_) / 8;
}

}  // namespace lrp::sched
