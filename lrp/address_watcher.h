// Keeps the XDP program's address map (local_addrs) in step with one
// interface's addresses, so that XDP takes only datagrams addressed to this
// host: every usable address of the interface as Local, and for IPv4 the
// broadcast addresses the kernel itself accepts on it as Broadcast.
//
// Use: the owner of the XdpProgram (one per interface) starts one watcher
// after attaching and destroys it before the program:
//
//   auto w = AddressWatcher::start(ifindex, program, [](const AddressChange& c) { ... });
//
// start() reads the current addresses into the map before it returns, then a
// thread of the watcher's own follows RTM_NEWADDR / RTM_DELADDR for that
// ifindex (in the network namespace of the thread that called start()) until
// the watcher is destroyed. Callbacks run on that thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "lrp/ip_address.h"
#include "lrp/netdev.h"
#include "lrp/result.h"

namespace lrp {

class XdpProgram;

// One address of the interface as rtnetlink reports it.
struct InterfaceAddress {
  IpAddress address;
  uint8_t prefix_len = 0;
  std::optional<IpAddress> broadcast;  // IPv4 IFA_BROADCAST, when set

  friend auto operator<=>(const InterfaceAddress&, const InterfaceAddress&) = default;
};

// What local_addrs must hold for these addresses, as the kernel's local
// routing table has it: each address Local; for IPv4 the subnet broadcast
// of each prefix shorter than /31, each explicit broadcast address, and
// 255.255.255.255 (when the interface has any IPv4 address) Broadcast.
std::map<IpAddress, uint32_t> host_addresses(const std::vector<InterfaceAddress>& addresses);

// An entry of local_addrs changed: flags 0 means it was removed.
struct AddressChange {
  IpAddress address;
  uint32_t flags = 0;
};

class AddressWatcher {
 public:
  using OnChange = std::function<void(const AddressChange&)>;
  // A change the map did not take (it is full), or the watcher stopping
  // because netlink failed.
  using OnError = std::function<void(const Error&)>;

  static Result<std::unique_ptr<AddressWatcher>> start(int ifindex, XdpProgram& program,
                                                       OnChange on_change = {},
                                                       OnError on_error = {});
  ~AddressWatcher();
  AddressWatcher(const AddressWatcher&) = delete;
  AddressWatcher& operator=(const AddressWatcher&) = delete;

  // What the watcher has put into the map.
  std::map<IpAddress, uint32_t> applied() const;
  // False once the thread stopped because netlink failed (reported through
  // on_error).
  bool running() const { return running_.load(); }

 private:
  AddressWatcher() = default;
  void run();
  // Follows one rtnetlink message; false when it was not about our addresses.
  bool note(const nlmsghdr& m);
  Status resynchronise();
  // Brings the map to what known_ calls for; the first failure, if any.
  Status apply();
  void fail(const Error& error);

  int ifindex_ = 0;
  XdpProgram* program_ = nullptr;
  OnChange on_change_;
  OnError on_error_;
  RtnlSocket socket_;
  // Keyed like the kernel's: one address may be there with two prefixes.
  std::map<std::pair<IpAddress, uint8_t>, InterfaceAddress> known_;
  mutable std::mutex mutex_;  // applied_
  std::map<IpAddress, uint32_t> applied_;
  int stop_fd_ = -1;
  std::thread thread_;
  std::atomic<bool> running_{false};
};

}  // namespace lrp
