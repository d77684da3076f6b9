// Blocking calls on lrp sockets spin in user space, where a signal does not
// interrupt anything. So the library wraps the program's signal handlers: the
// wrapper counts each delivery, and a waiting call that sees the count move
// returns EINTR as the kernel would (or goes on, for an SA_RESTART handler
// in a call the kernel restarts).
#pragma once

#include <atomic>
#include <cstdint>

namespace lrp::preload {

struct SignalCounts {
  uint64_t any;           // every handled signal: poll, select and epoll return EINTR
  uint64_t interrupting;  // handlers without SA_RESTART: recv and send return EINTR
};

SignalCounts signal_counts();

}  // namespace lrp::preload
