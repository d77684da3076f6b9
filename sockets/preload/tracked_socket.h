// One UDP socket of the program. Until lrp takes it over, it is the kernel
// socket behind the program's fd number and every call passes through. When
// it is bound (or connected) to an address of the lrp interface or to a
// wildcard, lrp takes it over: the kernel socket moves to a hidden fd number
// (still bound, so the port stays reserved and traffic from other interfaces
// and fragments still arrive there) and the program's number becomes an
// epoll fd that is readable when lrp or that kernel socket has a datagram,
// so select, poll and epoll mix lrp and kernel fds as usual.
//
// Whatever lrp cannot do for a socket leaves it on the kernel: a takeover
// that fails keeps the kernel socket at the program's number (the kernel's
// bind or connect result stands), and a served socket whose use lrp cannot
// follow any more (SO_BINDTODEVICE to another interface, an option lrp does
// not reproduce, io_uring, a disconnect that unbinds it) is given back: the
// kernel socket returns to every number the program has for it.
#pragma once

#include <time.h>

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
#include "sockets/preload/socket_options.h"
#include "sockets/preload/takeover_stats.h"

namespace lrp::preload {

// A datagram held for this socket: taken by another member of its reuseport
// group, peeked, kept over a connect, or kept within SO_RCVBUF.
struct HeldDatagram {
  std::vector<uint8_t> payload;
  Endpoint source;
  std::optional<Endpoint> local;
  uint8_t tos = 0;
  uint8_t ttl = 0;
  timespec stamp{};  // when lrp handed it to the library
};

class TrackedSocket {
 public:
  // `made_here`: the program made the socket under the library, so every
  // option it set went through setsockopt here (one received over a Unix
  // socket may have any).
  TrackedSocket(int family, int fd, bool made_here = true);
  ~TrackedSocket();
  TrackedSocket(const TrackedSocket&) = delete;
  TrackedSocket& operator=(const TrackedSocket&) = delete;

  int family() const { return family_; }
  // The kernel socket: the program's number before takeover, hidden after
  // (also once given back, until the socket's last number closes).
  int kernel_fd() const { return kernel_fd_.load(std::memory_order_acquire); }
  bool taken() const { return state_.load(std::memory_order_acquire) == State::Served; }
  bool returned() const { return state_.load(std::memory_order_acquire) == State::Returned; }
  // Inherited by a forked child from a parent that served it with lrp.
  bool inherited() const { return state_.load(std::memory_order_acquire) == State::Inherited; }
  // The lrp flow; it changes on connect and disconnect (flow_version moves).
  std::shared_ptr<LrpFlow> flow() const { return flow_.load(std::memory_order_acquire); }
  uint64_t flow_version() const { return flow_version_.load(std::memory_order_acquire); }
  // The options as the kernel socket has them (never null).
  const OptionState& options() const { return *options_.load(std::memory_order_acquire); }

  // After the kernel bound or connected the socket at `fd`: takes it over
  // when lrp serves its local address and can serve the socket; otherwise
  // it stays on the kernel (counted, said on stderr). Never fails.
  void consider_takeover(int fd);
  // After the kernel connected (remote set) or disconnected (AF_UNSPEC) a
  // served socket: the lrp flow follows the kernel's.
  void after_connect(const std::optional<Endpoint>& remote);
  // After a successful setsockopt on the socket.
  void note_option(int level, int name);
  // Gives a served socket back to the kernel (see above).
  void give_back(KernelReason reason, const std::string& why);

  // A socket received over a Unix socket (SCM_RIGHTS) or otherwise found at
  // a new number: the number names this socket from now on (the readiness
  // fd is put there). False when the socket is not served.
  bool adopt_number(int fd, bool cloexec);

  std::atomic<bool> nonblocking{false};
  std::optional<Endpoint> peer;        // connected remote (guarded by state_mutex)
  std::atomic<bool> connected{false};  // peer is set: a look without the lock
  // The local address the kernel chose at connect (guarded by state_mutex).
  std::optional<IpAddress> connected_local;
  std::mutex state_mutex;
  // Sends: a datagram corked in the kernel socket (MSG_MORE) that later
  // sends must join.
  std::atomic<bool> kernel_pending{false};

  // shutdown(): SHUT_RD wakes blocked receives, which then return 0 when
  // nothing is queued, and keeps the readiness fd readable (the kernel's
  // poll says readable); SHUT_WR makes sends the kernel's (EPIPE).
  static constexpr int kReadShut = 1, kWriteShut = 2;
  void note_shutdown(int how);
  int shut_down() const { return shut_down_.load(std::memory_order_acquire); }

  // Held datagrams; stash_fd is readable while any is held.
  void hold(HeldDatagram&& d);
  bool take_held(HeldDatagram* out, bool peek);
  size_t held_front_size();
  size_t held_count() const { return held_count_.load(std::memory_order_acquire); }
  bool has_held() const { return held_count() > 0; }

  // Waits until lrp or the kernel socket may have a datagram, or timeout_ms
  // passes: the epoll_wait result (-1 with EINTR when a signal came).
  int wait_readable(int timeout_ms);

  // In a fork child: never touch the parent's lrp state again.
  void mark_inherited();
  // Before an exec: every number of the socket that survives the exec (no
  // FD_CLOEXEC) names the kernel socket again, so the new program gets a
  // socket there. A socket this process serves is given back.
  void prepare_exec();
  // "udp 198.18.0.1:53 (fd 7)" for messages.
  std::string describe(int fd) const;

 private:
  enum class State : uint8_t { Kernel, Served, Returned, Inherited };
  // `hidden`: the kernel socket's new number, made before the flow opened.
  Status take_over(int fd, int hidden, std::shared_ptr<LrpFlow> flow);
  // Replaces the flow: the new one's readiness is watched, the old one's
  // datagrams that were this socket's are held (the kernel keeps what a
  // socket queued over a connect).
  void swap_flow(std::shared_ptr<LrpFlow> next);
  void watch_flow(const LrpFlow& flow, bool add);
  void refresh_options();
  // Gives back the served sockets holding the flow at `key`.
  void give_back_holders(const std::string& key);
  // Whether the socket may be served; the reason and detail when not. The
  // io_uring look comes later (in consider_takeover), once lrp could open it.
  std::optional<std::pair<KernelReason, std::string>> refuse();
  // `kernel_fd`: the kernel socket's number that stays (the hidden one).
  Result<std::shared_ptr<LrpFlow>> open_flow(const Endpoint& local,
                                             const std::optional<Endpoint>& remote, int kernel_fd,
                                             KernelReason* reason, std::string* key_out = nullptr);

  const int family_;
  std::atomic<int> kernel_fd_;
  std::atomic<State> state_{State::Kernel};
  bool counted_ = false;  // a kernel reason was counted for this socket
  std::atomic<std::shared_ptr<LrpFlow>> flow_;
  std::atomic<uint64_t> flow_version_{0};
  std::mutex transition_mutex_;  // takeover, flow swaps, give back
  int wait_fd_ = -1;             // epoll: the flow's ready fds, the kernel socket, stash_fd_
  int stash_fd_ = -1;            // eventfd
  std::mutex held_mutex_;
  std::deque<HeldDatagram> held_;
  std::atomic<size_t> held_count_{0};
  std::atomic<int> shut_down_{0};
  // Option views; old ones stay until the socket goes, as readers may hold them.
  std::atomic<const OptionState*> options_;
  std::vector<std::unique_ptr<OptionState>> option_versions_;
  uint64_t sticky_options_ = 0;
  // Nothing but defaults set (made here, no option of socket_options.h set):
  // the option view needs no system call but IPV6_V6ONLY's.
  bool options_default_ = true;
};

}  // namespace lrp::preload
