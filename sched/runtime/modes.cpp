// Names of the scheduler's modes and threadings, and how each mode waits.
#include "sched/runtime/modes.h"

namespace lrp::sched {

const char* to_string(Mode mode) {
  switch (mode) {
    case Mode::Interrupt:
      return "interrupt";
    case Mode::Poll:
      return "poll";
    case Mode::Adaptive:
      return "adaptive";
    case Mode::Eager:
      return "eager";
  }
  return "unknown";
}

const char* to_string(Threading t) {
  return t == Threading::RunToCompletion ? "rtc" : "dedicated";
}

Result<Mode> parse_mode(const std::string& text) {
  for (Mode m : {Mode::Interrupt, Mode::Poll, Mode::Adaptive, Mode::Eager})
    if (text == to_string(m)) return m;
  return make_error(EINVAL, "mode '" + text + "' is not one of adaptive, interrupt, poll, eager");
}

Result<Threading> parse_threading(const std::string& text) {
  if (text == "rtc") return Threading::RunToCompletion;
  if (text == "dedicated") return Threading::Dedicated;
  return make_error(EINVAL, "threading '" + text + "' is not rtc or dedicated");
}

WaitMode wait_mode(Mode mode) {
  switch (mode) {
    case Mode::Interrupt:
      return WaitMode::Interrupt;
    case Mode::Poll:
      return WaitMode::Poll;
    case Mode::Adaptive:
      return WaitMode::Adaptive;
    case Mode::Eager:
      // The BSD order is interrupt driven: work when frames arrive, sleep
      // as soon as the rings are empty.
      return WaitMode::Interrupt;
  }
  return WaitMode::Adaptive;
}

}  // namespace lrp::sched
