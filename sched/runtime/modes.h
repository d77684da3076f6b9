// The scheduler's modes and threadings by name, and how each mode waits.
// Apart from the scheduler so that programs which only name a mode (the
// lrpd-mode drop-in library, lrpd's command line) need no engine.
#pragma once

#include <string>

#include "lrp/result.h"
#include "sched/policy/wait_policy.h"

namespace lrp::sched {

enum class Mode { Interrupt, Poll, Adaptive, Eager };
enum class Threading { RunToCompletion, Dedicated };
const char* to_string(Mode mode);
const char* to_string(Threading threading);
Result<Mode> parse_mode(const std::string& text);
Result<Threading> parse_threading(const std::string& text);
// How the mode's threads wait (Eager's engine thread as an interrupt would).
WaitMode wait_mode(Mode mode);

}  // namespace lrp::sched
