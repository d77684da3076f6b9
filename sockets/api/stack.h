// The native socket API's root: one Stack per interface and process. It runs
// on a backend (backend.h): the runtime in this process (engines of every
// receive queue and their schedulers), and hands out applications and UDP
// sockets.
//
// Lifetimes: applications and sockets keep their stack alive (shared
// ownership), so they may be destroyed in any order.
//
// Threads: every Stack and Application call may come from any thread.
// Different sockets may be used from different threads at once; receive calls
// on one socket (or one application) must come from one thread at a time;
// sends on one socket are serialised internally and may overlap its receives.
// Close a socket only when no other thread is inside a call on it; closing
// or connecting a socket of a shared application also moves what its
// application had queued, so do it from the thread that receives through
// the application, or while none does. A blocking receive is not woken by
// a close from another thread: wait on the ready fd with your own timeout.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "lrp/engine.h"
#include "lrp/result.h"
#include "sched/runtime/scheduler.h"
#include "sockets/api/backend.h"
#include "sockets/api/options.h"

namespace lrp::sockets {

class Application;
class UdpSocket;

struct StackConfig {
  // Where the sockets are served. By default by lrpd, the host's daemon
  // (any user; it serves the interfaces it was started on, so ifname may
  // stay empty). in_process: by an engine in this process on `ifname`
  // (zero-copy; needs the privileges for XDP and AF_XDP); the settings
  // below are for that.
  bool in_process = false;
  std::string lrpd_socket;  // empty: $LRP_SOCKET, else /run/lrp/lrpd.sock
  std::string name;         // what lrpd shows for this process; empty: its command
  // With lrpd: runs first on the client's background thread.
  std::function<void()> on_background_thread;
  bool quiet = false;  // in process: libbpf's own messages are not printed
  std::string ifname;
  sched::Mode mode = sched::Mode::Adaptive;
  // RunToCompletion: the thread that receives does its sockets' protocol
  // work. Dedicated: an engine thread does it and hands datagrams over.
  sched::Threading threading = sched::Threading::RunToCompletion;
  XdpMode xdp_mode = XdpMode::Native;
  int engine_cpu = -1;  // pin the dedicated engine thread (one queue)
  // CPUs for the queues' engine threads; empty: the queues' interrupt CPUs
  // or the process's CPUs in turn.
  std::vector<int> cpus;
  bool busy_poll = false;  // kernel busy polling from the polling loop
  std::string metrics;     // HOST:PORT of a Prometheus endpoint; empty: none
  // Everything else of the engine and scheduler (queue, ring and UMEM sizes,
  // quota, hysteresis). The fields above override their counterparts here.
  EngineConfig engine;
  sched::SchedulerConfig scheduler;
};

class Stack : public std::enable_shared_from_this<Stack> {
 public:
  // Attaches lrp to the interface. Errors: ENODEV unknown interface, EPERM
  // without the privileges for XDP and AF_XDP, EBUSY when this process
  // already has a stack on the interface, or what the engine reports.
  static Result<std::shared_ptr<Stack>> open(const StackConfig& config);
  ~Stack();
  Stack(const Stack&) = delete;
  Stack& operator=(const Stack&) = delete;

  // A socket with an application of its own (config.application), so its
  // receive returns exactly its datagrams. With bind.remote set the socket
  // is connected: its exact flow is matched before any bound or wildcard
  // socket on the port; a wildcard local address then becomes the
  // interface's first address of the remote's family.
  // Errors: EADDRINUSE the same flow is bound in lrp, EADDRNOTAVAIL not an
  // address of the interface, EMFILE no application or socket slot left
  // (sched::kMaxApps, LRP_MAX_SLOTS), EINVAL port 0 or a bad config.
  Result<std::unique_ptr<UdpSocket>> open_udp(const BindSpec& bind,
                                              const SocketConfig& config = {});
  // An application several sockets can join; they receive through it.
  Result<std::shared_ptr<Application>> create_application(const ApplicationConfig& config);

  // Serves Prometheus metrics of this stack on HOST:PORT (port 0: any);
  // returns the URL. EALREADY when already serving.
  Result<std::string> start_metrics(const std::string& host_port);
  // Empty when no metrics server runs.
  std::string metrics_url() const;

  const StackConfig& config() const { return config_; }
  const std::string& ifname() const { return config_.ifname; }
  Backend& backend() { return *backend_; }
  // Open sockets of this stack.
  size_t socket_count() const;

 private:
  friend class Application;
  friend class UdpSocket;
  Stack() = default;
  static Result<std::shared_ptr<Stack>> open_on_lrpd(const StackConfig& config);
  // For a connected bind on a wildcard address: the interface's address of
  // the remote's family.
  Result<BindSpec> resolve_bind(const BindSpec& bind) const;
  void count_socket(int delta);

  StackConfig config_;
  std::unique_ptr<Backend> backend_;
  mutable std::mutex mutex_;  // socket count
  size_t sockets_ = 0;
};

}  // namespace lrp::sockets
