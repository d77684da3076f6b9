// SIGINT and SIGTERM ask the program to stop, so destructors run and the
// XDP program and sockets are removed.
#pragma once

#include <atomic>

namespace lrp {

void install_stop_handlers();
bool stop_requested();
// The address of the flag, for loops that poll it.
const std::atomic<bool>& stop_flag();

}  // namespace lrp
