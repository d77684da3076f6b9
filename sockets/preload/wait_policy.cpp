#include "sockets/preload/wait_policy.h"

#include <sys/prctl.h>

#include "sockets/preload/runtime.h"

namespace lrp::preload {

namespace {

struct Setup {
  WaitPolicy::Kind kind = WaitPolicy::Kind::Adaptive;
  sched::WaitConfig config;
};

const Setup& setup() {
  static const Setup s = [] {
    Setup out;
    if (const Settings* settings = Runtime::get().settings()) {
      if (settings->mode == "interrupt") out.kind = WaitPolicy::Kind::Interrupt;
      if (settings->mode == "poll") out.kind = WaitPolicy::Kind::Poll;
      // LRP_SPIN_US bounds any one spin.
      out.config.spin_cap = int64_t{settings->spin_us} * 1000;
    }
    return out;
  }();
  return s;
}

sched::WaitMode wait_mode(WaitPolicy::Kind kind) {
  switch (kind) {
    case WaitPolicy::Kind::Interrupt:
      return sched::WaitMode::Interrupt;
    case WaitPolicy::Kind::Poll:
      return sched::WaitMode::Poll;
    case WaitPolicy::Kind::Adaptive:
      return sched::WaitMode::Adaptive;
  }
  return sched::WaitMode::Adaptive;
}

}  // namespace

WaitPolicy::Kind wait_kind() {
  return setup().kind;
}

sched::WaitPolicy& thread_wait_policy() {
  static thread_local sched::WaitPolicy policy(wait_mode(setup().kind), setup().config);
  return policy;
}

const WaitPolicy& wait_policy() {
  static thread_local WaitPolicy view;
  const Setup& s = setup();
  view.kind = s.kind;
  if (s.kind == WaitPolicy::Kind::Adaptive) {
    // A blocking receive waits only after it found nothing: the previous
    // wait ended with an arrival, and this look came up empty.
    sched::WaitPolicy& policy = thread_wait_policy();
    const int64_t now = now_ns();
    policy.on_poll(now, 1);
    policy.on_poll(now, 0);
    view.spin_ns = std::min(policy.spin_budget(), s.config.spin_cap);
  }
  return view;
}

void sleep_for_ns(int64_t ns) {
  // Deferrals are tens of microseconds; a normal thread's default timer
  // slack (50 us) would stretch them several times over.
  static thread_local bool slack_set = false;
  if (!slack_set) {
    slack_set = true;
    prctl(PR_SET_TIMERSLACK, 1'000UL, 0, 0, 0);
  }
  ns = std::max<int64_t>(ns, 0);
  const timespec ts{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
  clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, nullptr);
}

}  // namespace lrp::preload
