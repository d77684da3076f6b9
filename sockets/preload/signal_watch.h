// Blocking calls on lrp sockets spin in user space, where a signal does not
// interrupt anything. So the library wraps the program's signal handlers: the
// wrapper counts each delivery in the thread that ran the handler, and a
// waiting call in that thread that sees its count move returns EINTR as the
// kernel would (or goes on, for an SA_RESTART handler in a call the kernel
// restarts). Other threads' calls go on, as in the kernel, where a signal
// interrupts only the thread it is delivered to.
#pragma once

#include <atomic>
#include <cstdint>

namespace lrp::preload {

struct SignalCounts {
  uint64_t any;           // every handled signal: poll, select and epoll return EINTR
  uint64_t interrupting;  // handlers without SA_RESTART: recv and send return EINTR
};

// The calling thread's counts.
SignalCounts signal_counts();

}  // namespace lrp::preload
