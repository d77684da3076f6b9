// One UDP socket of the program. Until lrp takes it over, it is the kernel
// socket behind the program's fd number and every call passes through. When
// it is bound (or connected) to an address of the lrp interface or to a
// wildcard, lrp takes it over: the kernel socket moves to a hidden fd number
// (still bound, so the port stays reserved and traffic from other interfaces
// and fragments still arrive there) and the program's number becomes an
// epoll fd that is readable when lrp or that kernel socket has a datagram,
// so select, poll and epoll mix lrp and kernel fds as usual.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "lrp/ip_address.h"
#include "lrp/result.h"
#include "sockets/preload/lrp_flow.h"

namespace lrp::preload {

// A datagram held for this socket: taken by another member of its reuseport
// group, or peeked.
struct HeldDatagram {
  std::vector<uint8_t> payload;
  Endpoint source;
  std::optional<Endpoint> local;
};

class TrackedSocket {
 public:
  TrackedSocket(int family, int fd);
  ~TrackedSocket();
  TrackedSocket(const TrackedSocket&) = delete;
  TrackedSocket& operator=(const TrackedSocket&) = delete;

  int family() const { return family_; }
  // The kernel socket: the program's number before takeover, hidden after.
  int kernel_fd() const { return kernel_fd_.load(std::memory_order_acquire); }
  bool taken() const { return taken_.load(std::memory_order_acquire); }
  // Inherited by a forked child from a parent that served it with lrp.
  bool inherited() const { return inherited_; }
  LrpFlow* flow() const { return flow_.get(); }

  // After the kernel bound or connected the socket at `fd`: takes it over
  // when its local address is served by lrp. 0 or -1 with errno set.
  int consider_takeover(int fd, const std::optional<Endpoint>& remote);
  // connect() on a taken socket: the lrp flow follows the kernel's.
  int connect_flow(const Endpoint& remote);

  // Options the receive and send paths need, mirrored from the kernel socket.
  void note_option(int level, int name, const void* value, socklen_t length);
  std::atomic<bool> nonblocking{false};
  std::atomic<bool> pktinfo4{false};
  std::atomic<bool> pktinfo6{false};
  std::atomic<int> rcvtimeo_ms{-1};  // -1: wait forever
  std::atomic<int> sndtimeo_ms{-1};
  std::optional<Endpoint> peer;  // connected remote (guarded by state_mutex)
  std::mutex state_mutex;

  // Held datagrams (reuseport spreading, MSG_PEEK); stash_fd is readable
  // while any is held.
  void hold(HeldDatagram&& d);
  bool take_held(HeldDatagram* out, bool peek);
  size_t held_front_size();
  bool has_held() const { return held_count_.load(std::memory_order_acquire) > 0; }

  // Waits until lrp or the kernel socket may have a datagram, or timeout_ms
  // passes: the epoll_wait result (-1 with EINTR when a signal came).
  int wait_readable(int timeout_ms);

  // In a fork child: never touch the parent's lrp state again.
  void mark_inherited();

 private:
  Status take_over(int fd, const std::vector<BindSpec>& binds, const std::string& key,
                   const Endpoint& local);
  void say_unsupported_options();

  const int family_;
  std::atomic<int> kernel_fd_;
  std::atomic<bool> taken_{false};
  bool inherited_ = false;
  std::shared_ptr<LrpFlow> flow_;
  int wait_fd_ = -1;   // epoll: the flow's ready fds, the kernel socket, stash_fd_
  int stash_fd_ = -1;  // eventfd
  std::mutex held_mutex_;
  std::deque<HeldDatagram> held_;
  std::atomic<size_t> held_count_{0};
  std::vector<std::string> unsupported_;  // options set that lrp does not honour
};

}  // namespace lrp::preload
