// The process-wide side of the preload library: the settings, the lrp
// interface's addresses, the stack opened on the first socket lrp takes over,
// one-time messages, and the guard that keeps lrp's own calls on libc.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "lrp/ip_address.h"
#include "lrp/result.h"
#include "sockets/api/stack.h"
#include "sockets/preload/env_settings.h"

namespace lrp::preload {

// While set on a thread, every intercepted call goes straight to libc: the
// stack's own sockets, epolls and eventfds are never taken over.
class InsideLrp {
 public:
  InsideLrp() { ++depth_; }
  ~InsideLrp() { --depth_; }
  InsideLrp(const InsideLrp&) = delete;
  InsideLrp& operator=(const InsideLrp&) = delete;
  static bool active() { return depth_ > 0; }

 private:
  static thread_local int depth_;
};

struct InterfacePrefix {
  IpAddress address;
  int prefix_len = 0;
};

class Runtime {
 public:
  static Runtime& get();

  // Null when the environment is missing or wrong (said once on stderr).
  const Settings* settings();
  // An address whose traffic arrives on the lrp interface: a wildcard or an
  // address of the interface.
  bool serves(const IpAddress& local);
  // A destination on one of the interface's subnets: lrp sends to it.
  bool reaches(const IpAddress& destination);
  int ifindex();

  // The stack, opened on first use. After a fork with a stack open, the
  // child gets EBUSY: the parent's engine is not the child's to use.
  Result<std::shared_ptr<sockets::Stack>> stack();
  // The calling process is a fork child of a process that had a stack.
  bool forked_from_stack() const { return forked_from_stack_; }
  void note_fork_child();

  // Prints "lrp-preload: MESSAGE" on stderr the first time `key` is seen.
  void warn_once(const std::string& key, const std::string& message);
  void say(const std::string& message);

 private:
  Runtime() = default;
  void load_interface();

  std::mutex mutex_;
  bool settings_loaded_ = false;
  std::unique_ptr<Settings> settings_;
  bool interface_loaded_ = false;
  std::vector<InterfacePrefix> prefixes_;
  int ifindex_ = 0;
  std::shared_ptr<sockets::Stack> stack_;
  bool forked_from_stack_ = false;
  std::vector<std::string> warned_;
};

}  // namespace lrp::preload
