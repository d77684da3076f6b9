// The process-wide side of the preload library: the settings, the lrp
// interface's addresses, the stack opened on the first socket lrp takes over,
// one-time messages, and the guard that keeps lrp's own calls on libc.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "lrp/ip_address.h"
#include "lrp/result.h"
#include "sockets/api/stack.h"
#include "sockets/preload/env_settings.h"

namespace lrp::preload {

// While set on a thread, every intercepted call goes straight to libc: the
// stack's own sockets, epolls and eventfds are never taken over (and the
// fds they create are marked as lrp's own).
class InsideLrp {
 public:
  InsideLrp() { ++depth_; }
  ~InsideLrp() { --depth_; }
  InsideLrp(const InsideLrp&) = delete;
  InsideLrp& operator=(const InsideLrp&) = delete;
  static bool active() { return depth_ > 0; }
  // For a thread lrp started: everything it does is lrp's.
  static void mark_thread() { ++depth_; }

 private:
  [[gnu::tls_model("initial-exec")]] static thread_local int depth_;
};

struct InterfacePrefix {
  IpAddress address;
  int prefix_len = 0;
  std::vector<IpAddress> broadcasts;  // IPv4: the subnet's broadcast addresses
};

class Runtime {
 public:
  static Runtime& get();

  // Null when the environment is missing or wrong (said once on stderr).
  const Settings* settings();
  // An address whose traffic arrives on the lrp interface: a wildcard or an
  // address of the interface.
  bool serves(const IpAddress& local);
  // A unicast destination on one of the interface's subnets that is not an
  // address of this host or a subnet broadcast: lrp sends to it.
  bool reaches(const IpAddress& destination);
  // An address of the interface (of either family).
  bool is_interface_address(const IpAddress& a);
  // The interface address the kernel would send from to `destination`: the
  // one whose subnet holds it.
  std::optional<IpAddress> source_for(const IpAddress& destination);
  int ifindex();
  int mtu();

  // The stack, opened on first use. After a failure, later calls within a
  // second get the same error without trying again (a process opening
  // sockets in a loop tries once). After a fork with a stack open, the
  // child gets EBUSY: the parent's engine is not the child's to use.
  Result<std::shared_ptr<sockets::Stack>> stack();
  // The stack if one is open, without opening one.
  std::shared_ptr<sockets::Stack> open_stack();
  // The calling process is a fork child of a process that had a stack.
  bool forked_from_stack() const { return forked_from_stack_; }
  void note_fork_child();

  // The process made an io_uring instance: from now on no socket is taken
  // over, and sockets lrp serves go back to the kernel.
  void note_io_uring();
  bool io_uring_seen() const { return io_uring_.load(std::memory_order_acquire); }

  // Prints "lrp-preload: MESSAGE" on stderr the first time `key` is seen.
  void warn_once(const std::string& key, const std::string& message);
  void say(const std::string& message);

 private:
  Runtime() = default;
  // Loads the interface's addresses the first time; false without settings.
  bool interface_known();
  void load_interface();
  std::vector<std::string> served_interfaces();

  std::mutex mutex_;  // the stack, messages said once
  std::once_flag settings_once_;
  std::unique_ptr<Settings> settings_;
  std::once_flag interface_once_;
  std::vector<InterfacePrefix> prefixes_;
  int ifindex_ = 0;
  int mtu_ = 1500;
  std::shared_ptr<sockets::Stack> stack_;
  std::optional<Error> stack_error_;
  int64_t stack_error_at_ns_ = 0;
  bool forked_from_stack_ = false;
  std::atomic<bool> io_uring_{false};
  std::vector<std::string> warned_;
};

}  // namespace lrp::preload
