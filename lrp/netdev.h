// Interface facts over rtnetlink (index, MAC, MTU, state, addresses, queues),
// a watcher that tells an engine when its interface goes down, comes back or
// disappears, and the small rtnetlink socket both use (as does neighbour.h).
#pragma once

#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "lrp/ip_address.h"
#include "lrp/result.h"

namespace lrp {

using MacAddress = std::array<uint8_t, 6>;

struct InterfaceInfo {
  int ifindex = 0;
  std::string name;
  MacAddress mac{};
  uint32_t mtu = 0;
  bool up = false;  // administratively up and carrier present: frames can flow
  // Global addresses before link-local ones, so the first of a family is a
  // sensible source address.
  std::vector<IpAddress> addresses;
  uint32_t rx_queues = 0;  // active receive queues, the ones an AF_XDP socket can bind
};

// Everything below asks the network namespace of the calling thread.
Result<InterfaceInfo> query_interface(const std::string& name);
Result<bool> interface_is_up(int ifindex);

// The driver behind an interface as ethtool names it ("veth", "virtio_net",
// "mlx5_core"...); empty for devices without driver information.
Result<std::string> interface_driver(const std::string& ifname);
// Whether frames this driver receives can carry a partial UDP checksum from
// a local sender (Linux CHECKSUM_PARTIAL, the field holding only the
// pseudo-header sum), which the kernel trusts and XDP and AF_XDP see as is.
// veth does: a sender on the same host leaves the sum to the "device". A
// NIC receives what the wire carried: full checksums only.
bool driver_passes_partial_checksums(std::string_view driver);
// Both, for an interface: what ParseOptions::accept_partial_checksum should be.
Result<bool> driver_may_pass_partial_checksums(const std::string& ifname);

// One rtnetlink request: a netlink header, the family header, attributes.
class NetlinkRequest {
 public:
  template <class FamilyHeader>
  NetlinkRequest(uint16_t type, uint16_t flags, const FamilyHeader& header) {
    nlmsghdr* m = message();
    m->nlmsg_type = type;
    m->nlmsg_flags = flags;
    m->nlmsg_len = NLMSG_LENGTH(sizeof(header));
    std::memcpy(NLMSG_DATA(m), &header, sizeof(header));
  }
  void add(uint16_t attribute, const void* data, size_t length);
  void add_u32(uint16_t attribute, uint32_t value) { add(attribute, &value, sizeof(value)); }
  void add_string(uint16_t attribute, const std::string& s) {
    add(attribute, s.c_str(), s.size() + 1);
  }
  nlmsghdr* message() { return reinterpret_cast<nlmsghdr*>(buffer_.data()); }
  bool overflowed() const { return overflowed_; }

 private:
  alignas(nlmsghdr) std::array<uint8_t, 256> buffer_{};
  bool overflowed_ = false;
};

// A NETLINK_ROUTE socket. It stays in the network namespace of the thread
// that opened it, whichever thread uses it later.
class RtnlSocket {
 public:
  using Handler = std::function<void(const nlmsghdr&)>;

  // groups: RTMGRP_* notifications to subscribe to (0 for requests only).
  static Result<RtnlSocket> open(uint32_t groups = 0);

  RtnlSocket() = default;
  RtnlSocket(RtnlSocket&& other) noexcept;
  RtnlSocket& operator=(RtnlSocket&& other) noexcept;
  RtnlSocket(const RtnlSocket&) = delete;
  RtnlSocket& operator=(const RtnlSocket&) = delete;
  ~RtnlSocket();

  int fd() const { return fd_; }

  // Sends the request and hands each reply to on_reply until the kernel acks
  // it or ends the dump. Notifications that arrive meanwhile go to
  // on_notification, in order. A kernel refusal becomes an Error whose
  // context is `what` (plus the kernel's own explanation, when it gives one).
  Status transact(NetlinkRequest& request, const Handler& on_reply, const std::string& what,
                  const Handler& on_notification = {});

  // Receives whatever is queued without blocking; false when nothing was.
  Result<bool> receive_pending(const Handler& on_message);

  // True (once) when a transact() saw notifications dropped (ENOBUFS).
  bool take_notifications_lost() { return std::exchange(notifications_lost_, false); }

 private:
  explicit RtnlSocket(int fd, uint32_t port_id);
  Result<size_t> receive(int timeout_ms, const std::string& what);

  int fd_ = -1;
  uint32_t port_id_ = 0;
  uint32_t sequence_ = 0;
  bool notifications_lost_ = false;
  std::vector<uint8_t> buffer_;
};

// The family header of a message, or nullptr when the message is too short.
template <class FamilyHeader>
const FamilyHeader* family_header(const nlmsghdr& m) {
  if (m.nlmsg_len < NLMSG_LENGTH(sizeof(FamilyHeader))) return nullptr;
  return static_cast<const FamilyHeader*>(NLMSG_DATA(&m));
}

// Fills table[type] with the attributes that follow the family header;
// types the table has no room for are skipped.
void parse_attributes(const nlmsghdr& m, size_t family_header_size, std::span<const rtattr*> table);

inline const void* attribute_data(const rtattr* a) {
  return RTA_DATA(a);
}
inline size_t attribute_length(const rtattr* a) {
  return RTA_PAYLOAD(a);
}

// The interface's name, for messages; asks through the given socket so it
// answers for that socket's namespace.
Result<std::string> interface_name(RtnlSocket& socket, int ifindex);

enum class LinkState : uint8_t { Up, Down, Deleted };

struct LinkEvent {
  int ifindex = 0;
  std::string name;
  LinkState state = LinkState::Down;
};

// Link notifications (RTMGRP_LINK) on a non-blocking fd for epoll. Only
// changes are reported: the kernel notifies for any attribute change, and an
// interface's current state at open() is recorded, not reported.
class LinkWatcher {
 public:
  static Result<LinkWatcher> open();

  int fd() const { return socket_.fd(); }
  // Drains the socket without blocking; empty when nothing changed.
  Result<std::vector<LinkEvent>> poll_events();

 private:
  // Replaces what we know with a dump of all links; lost notifications
  // (ENOBUFS) are made up for this way.
  Status resynchronise(std::vector<LinkEvent>* events);
  void note(const nlmsghdr& m, std::vector<LinkEvent>* events, std::vector<int>* seen);

  RtnlSocket socket_;
  std::unordered_map<int, bool> up_;  // last known state per ifindex
};

}  // namespace lrp
