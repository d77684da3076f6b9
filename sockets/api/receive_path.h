// The receive side of one scheduler application, as the API presents it: a
// small cache of datagrams already taken from the scheduler (so a copying
// receive costs one scheduler visit per batch, not per datagram) and a
// level-triggered readiness fd that covers both the cache and the
// scheduler's own readiness. One receiving thread at a time.
#pragma once

#include <cstddef>
#include <deque>
#include <span>

#include "lrp/engine.h"
#include "sockets/api/backend.h"

namespace lrp::sockets {

class ReceivePath {
 public:
  static Result<std::unique_ptr<ReceivePath>> create(Backend& backend, BackendApp app);
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

 private:
  ReceivePath(Backend& backend, BackendApp app);
  size_t take_cached(std::span<Datagram> out);
  // Makes the pending eventfd match "the cache or the scheduler's queue
  // holds something".
  void update_pending();

  Backend& backend_;
  BackendApp app_;
  std::deque<Datagram> cache_;
  int pending_fd_ = -1;  // eventfd: readable while something waits here
  int epoll_fd_ = -1;    // pending_fd_ + the scheduler's ready fd
  bool pending_ = false;
};

}  // namespace lrp::sockets
