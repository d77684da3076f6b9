// SIGINT and SIGTERM ask the program to stop, so destructors run and the
// XDP program and sockets are removed. SIGUSR1 asks a server to print its
// counters so far (a harness reads them between load steps).
#pragma once

#include <atomic>
#include <functional>

namespace lrp {

void install_stop_handlers();
bool stop_requested();
// The address of the flag, for loops that poll it.
const std::atomic<bool>& stop_flag();
// True once per SIGUSR1 received since the last call.
bool take_report_request();

// A server's main thread: returns on a stop request or once `duration_s` has
// passed (when positive), and calls `report` for each SIGUSR1. It sleeps
// until a signal or the deadline, so an idle server costs no wake-ups here.
void serve_until_stopped(double duration_s, const std::function<void()>& report);

}  // namespace lrp
