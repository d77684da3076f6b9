// The one line lrp-echo prints on SIGUSR1 and at exit: what it received and
// what the engine, the scheduler and the XDP program did, as key=value pairs
// a script can parse. Counters are cumulative since start.
#pragma once

#include <cstdint>

#include "runtime/interface_runtime.h"

namespace lrp {

void print_echo_report(runtime::InterfaceRuntime& runtime, uint64_t received);

}  // namespace lrp
