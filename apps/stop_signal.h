// SIGINT and SIGTERM ask the program to stop, so destructors run and the
// XDP program and sockets are removed. SIGUSR1 asks a server to print its
// counters so far (a harness reads them between load steps).
#pragma once

#include <atomic>

namespace lrp {

void install_stop_handlers();
bool stop_requested();
// The address of the flag, for loops that poll it.
const std::atomic<bool>& stop_flag();
// True once per SIGUSR1 received since the last call.
bool take_report_request();

}  // namespace lrp
