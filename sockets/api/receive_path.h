// The receive side of one application, as the API presents it: a small
// cache of datagrams already taken from the backend (so a copying receive
// costs one backend visit per batch, not per datagram), the datagrams its
// sockets' kernel sockets received (kernel_inbox.h), and a level-triggered
// readiness fd that covers the cache, the backend's own readiness and the
// kernel sockets. One receiving thread at a time.
#pragma once

#include <cstddef>
#include <deque>
#include <span>

#include "lrp/engine.h"
#include "sched/policy/clock.h"
#include "sched/runtime/waiter.h"
#include "sockets/api/backend.h"
#include "sockets/api/kernel_inbox.h"

namespace lrp::sockets {

class ReceivePath {
 public:
  // How an empty receive over the backend and the kernel sockets waits: by
  // lrp's one wait policy, in poll mode for spin_ns < 0, interrupt mode for
  // 0, else adaptive with spins of at most spin_ns.
  static Result<std::unique_ptr<ReceivePath>> create(Backend& backend, BackendApp app,
                                                     int64_t spin_ns);
  ~ReceivePath();
  ReceivePath(const ReceivePath&) = delete;
  ReceivePath& operator=(const ReceivePath&) = delete;

  // Cached datagrams first, then the scheduler's.
  size_t receive(std::span<Datagram> out, int timeout_ms);
  // One datagram, taking a batch from the scheduler when the cache is empty.
  bool receive_one(Datagram* out, int timeout_ms);
  // Forgets datagrams of a closed socket: the engine already took their
  // frames back. Moves what the scheduler still queued into the cache first
  // (dedicated threading), so none of that socket's datagrams remain there.
  void forget_slot(SlotId slot);
  // Gives every cached datagram's frame back.
  void release_cached();
  int ready_fd() const { return epoll_fd_; }

  // A socket's kernel socket, read by this path (until unwatch_kernel).
  Status watch_kernel(SlotId slot, KernelSocket* socket);
  void unwatch_kernel(SlotId slot, int fd);
  // Gives a datagram back: to the backend, or a kernel datagram's buffer.
  void done(std::span<const Datagram> datagrams);

 private:
  class TakePoll;
  ReceivePath(Backend& backend, BackendApp app, int64_t spin_ns);
  size_t take_cached(std::span<Datagram> out);
  // One look at the backend and the kernel sockets, without waiting.
  size_t take_new(std::span<Datagram> out);
  size_t wait_and_take(std::span<Datagram> out, int timeout_ms);
  // Makes the pending eventfd match "the cache or the scheduler's queue
  // holds something".
  void update_pending();

  Backend& backend_;
  BackendApp app_;
  sched::MonotonicClock clock_;
  sched::Waiter waiter_;
  std::deque<Datagram> cache_;
  KernelInbox kernel_;
  int pending_fd_ = -1;  // eventfd: readable while something waits here
  int epoll_fd_ = -1;    // pending_fd_ + the backend's ready fd + kernel sockets
  bool pending_ = false;
};

}  // namespace lrp::sockets
