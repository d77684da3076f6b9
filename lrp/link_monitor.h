// Watches the interface an engine serves and says so when it goes down, comes
// back or disappears: a reusable piece for any program built on an Engine.
// It runs its own thread on a LinkWatcher, prints one line per change to
// stderr, and calls the program's handler, which decides what a change means
// (carry on, or stop when the interface is gone).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "lrp/netdev.h"
#include "lrp/result.h"

namespace lrp {

class LinkMonitor {
 public:
  using Handler = std::function<void(LinkState)>;

  // Watches `ifname` in the calling thread's network namespace. Messages
  // start with `program` ("lrp-echo: ..."). The handler runs on the
  // monitor's thread.
  static Result<std::unique_ptr<LinkMonitor>> start(const std::string& ifname,
                                                    const std::string& program, Handler on_change);
  // A handler for servers: when the interface is deleted, raise SIGTERM, so
  // the program's ordinary stop path runs (destructors, summary, exit 0).
  static Handler stop_on_delete();

  ~LinkMonitor();
  LinkMonitor(const LinkMonitor&) = delete;
  LinkMonitor& operator=(const LinkMonitor&) = delete;

  bool up() const { return up_.load(); }
  bool deleted() const { return deleted_.load(); }
  uint64_t downs() const { return downs_.load(); }

 private:
  LinkMonitor() = default;
  void run();
  void report(const LinkEvent& event);

  LinkWatcher watcher_;
  int ifindex_ = 0;
  std::string ifname_;
  std::string program_;
  Handler on_change_;
  int stop_fd_ = -1;  // eventfd: the destructor wakes the thread
  std::thread thread_;
  std::atomic<bool> up_{true};
  std::atomic<bool> deleted_{false};
  std::atomic<uint64_t> downs_{0};
};

}  // namespace lrp
