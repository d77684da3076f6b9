// The lrp side of one bound UDP address of the program: its native-API
// socket (two for an IPv6 wildcard that also takes IPv4), shared by every
// program socket bound to the same address with SO_REUSEPORT. Datagrams are
// spread over those members by the sender's address and port, as the
// kernel spreads a reuseport group, so one flow always meets one member.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "lrp/ip_address.h"
#include "lrp/result.h"
#include "sockets/api/stack.h"
#include "sockets/api/udp_socket.h"

namespace lrp::preload {

class TrackedSocket;

class LrpFlow : public std::enable_shared_from_this<LrpFlow> {
 public:
  // The flow bound at `key`, opened on `stack` when the process has none.
  // `binds` are the native binds to open (IPv4 first when there are two).
  // A flow is shared only between sockets that all set SO_REUSEPORT (the
  // kernel's rule for spreading); anything else finds the key taken
  // (EADDRINUSE).
  static Result<std::shared_ptr<LrpFlow>> join(const std::shared_ptr<sockets::Stack>& stack,
                                               const std::string& key,
                                               const std::vector<BindSpec>& binds,
                                               const sockets::SocketConfig& config, bool reuseport);
  // The flow open at `key`, if any.
  static std::shared_ptr<LrpFlow> find(const std::string& key);
  ~LrpFlow();

  void add_member(TrackedSocket* member);
  void remove_member(TrackedSocket* member);
  size_t member_count() const { return member_count_.load(std::memory_order_acquire); }

  // A look without system calls or locks: may a receive find something?
  // (Frames in a socket's RX ring or the scheduler's queue, or datagrams the
  // native receive path may still have cached from its last batch.) A
  // spinning receiver asks this instead of calling an empty receive.
  bool maybe_pending() const;
  void note_receive(bool got) { cached_.store(got, std::memory_order_relaxed); }
  // Datagrams waiting in the flow's rings and scheduler queues (not counting
  // what a native receive path may hold in its cache).
  size_t pending_count() const;
  // The member a datagram from `source` belongs to.
  TrackedSocket* owner_of(const Endpoint& source);
  // Calls f on the member under the members lock (it cannot go away meanwhile).
  template <class F>
  void with_owner_of(const Endpoint& source, F&& f) {
    std::lock_guard lock(members_mutex_);
    f(owner_locked(source));
  }

  std::vector<std::unique_ptr<sockets::UdpSocket>>& sockets() { return sockets_; }
  // The socket of the destination's family, or null.
  sockets::UdpSocket* for_family(bool v4);
  // One receiving thread at a time on the native sockets.
  std::mutex& receive_mutex() { return receive_mutex_; }
  size_t next_socket() { return turn_++; }
  const std::string& key() const { return key_; }

 private:
  LrpFlow() = default;
  TrackedSocket* owner_locked(const Endpoint& source);

  std::string key_;
  bool reuseport_ = false;
  std::vector<std::unique_ptr<sockets::UdpSocket>> sockets_;
  std::mutex receive_mutex_;
  std::mutex members_mutex_;
  std::vector<TrackedSocket*> members_;
  std::atomic<size_t> member_count_{0};
  std::shared_ptr<sockets::Stack> stack_;
  std::atomic<bool> cached_{true};
  size_t turn_ = 0;
};

}  // namespace lrp::preload
