// The client side of lrpd: how a server process (through the native API or
// the preload library) attaches its UDP sockets to the daemon.
//
// Shape
//   ServiceClient  one connection to lrpd per process (Hello: name, weight).
//   ServiceApp     one lrpd application: a shared-memory region with an RX
//                  ring (lrpd -> app), a TX ring (app -> lrpd) and a doorbell.
//                  The unit lrpd schedules, charges and isolates.
//   ServiceSocket  one kernel UDP socket the caller bound (and maybe
//                  connected) and handed over: lrpd checks it, keeps a
//                  reference and steers its flow into the application.
//
//   auto client = ServiceClient::connect({.name = "echo"});      // ECONNREFUSED/ENOENT: no lrpd
//   auto app = client.value()->create_app({.weight = 2});
//   int fd = socket(AF_INET, SOCK_DGRAM, 0); bind(fd, ...);     // the kernel checks the port
//   auto sock = app.value()->bind(fd);                           // lrpd serves it from now on
//   RxDatagram batch[32];
//   size_t n = app.value()->receive(batch, 100).value();         // zero-copy views into the ring
//   for (...) sock->send_to(batch[i].source, batch[i].payload);  // through the TX ring
//   app.value()->done(std::span(batch, n));                      // hand the ring entries back
//
// Fallback and recovery. The kernel socket stays the caller's, stays valid
// and is the caller's to read: traffic that reaches it anyway (loopback,
// other interfaces, the moments around a bind, everything while lrpd is
// away) is not in the ring. When lrpd goes away (its control socket hangs
// up, or the doorbell does), the client is marked down: receives finish
// what the ring still holds, sends answer ENOTCONN (the caller sends on its
// kernel socket). A background thread retries every reconnect_interval_ms
// and, once lrpd is back, re-creates the applications and re-binds the same
// kernel sockets; nothing changes for the caller except up(). The native
// API (sockets/api) does all of the caller's part.
//
// fork. A child keeps the mapping and the kernel sockets. On its first call
// into the client it notices the fork (pthread_atfork), opens its own
// connection, joins its applications by id and secret and re-binds the
// kernel sockets it inherited (lrpd recognises them by inode and joins the
// existing lrp sockets). Parent and children then share each application
// the way processes share a kernel socket: every datagram goes to exactly
// one of them. Zero-copy views do not cross a fork: the process that
// received a datagram calls done() for it.
//
// Threads. All calls may come from any thread; several threads (and
// processes) may receive from one application at once.
//
// Errors: lrp::Error with an errno. ENOTCONN: lrpd is down and the call
// needs it (create_app while down is allowed: the application is created
// when lrpd returns). EAGAIN: nothing to receive in time, or the TX ring is
// full. EMSGSIZE: a payload larger than a ring slot. EBADF: a closed socket.
// EPERM: the application is not this process's. Bind errors come from
// lrpd's checks: EPROTOTYPE (not UDP), EINVAL (not bound), EADDRNOTAVAIL
// (not an address of a served interface), ENODEV (SO_BINDTODEVICE to an
// interface lrpd does not serve), EADDRINUSE.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "lrp/ip_address.h"
#include "lrp/result.h"
#include "service/protocol.h"
#include "service/shm/region.h"
#include "service/wire/channel.h"
#include "service/wire/unique_fd.h"

namespace lrp::service {

// $LRP_SOCKET when set, else kDefaultSocketPath.
std::string default_socket_path();

struct ClientConfig {
  std::string socket_path;  // empty: default_socket_path()
  std::string name;         // shown by lrpctl and in metrics; empty: /proc/self/comm
  uint32_t weight = 1;      // default weight of this process's applications
  bool reconnect = true;    // re-attach in the background when lrpd returns
  int reconnect_interval_ms = 250;
  int reply_timeout_ms = 5000;  // a control request unanswered this long: lrpd is stuck
  // Runs first on the client's background thread (the one that re-attaches),
  // before it opens any fd.
  std::function<void()> on_background_thread;
};

struct AppConfig {
  std::string name;          // empty: the client's name
  uint32_t weight = 0;       // 0: the client's weight
  uint32_t queue_bound = 0;  // delivered, unread datagrams lrpd lets queue (0: lrpd's default)
  uint32_t held_cap = 0;     // frames lrpd's engine may hold for it (0: default)
  uint32_t rx_entries = 0;   // ring sizes (0: defaults)
  uint32_t tx_entries = 0;
};

class ServiceApp;
class ServiceSocket;
struct Attachment;

// A received datagram: a view into its ring entry, valid until
// ServiceApp::done(). Move-only.
struct RxDatagram {
  uint32_t socket = 0;  // ServiceSocket::handle() of the socket it came to
  Endpoint source;
  Endpoint destination;  // the local address and port it was sent to
  std::span<const uint8_t> payload;
  uint32_t datagram_length = 0;  // > payload.size(): truncated to the slot
  bool truncated = false;
  uint64_t time_ns = 0;  // receive time, CLOCK_REALTIME (0 when unknown)
  uint8_t tos = 0;
  uint8_t ttl = 0;
  uint32_t ifindex = 0;

  // Names the held ring entry, for callers that keep their own records of
  // received datagrams (ServiceApp::done_token).
  uint64_t token() const { return token_; }

  RxDatagram() = default;
  RxDatagram(RxDatagram&&) noexcept = default;
  RxDatagram& operator=(RxDatagram&&) noexcept = default;
  ~RxDatagram();

 private:
  friend class ServiceApp;
  std::shared_ptr<Attachment> attachment_;
  RingSlot slot_{};
  uint64_t token_ = 0;
};

// What receive_copy() wrote.
struct RxInfo {
  size_t size = 0;  // bytes written
  size_t datagram_size = 0;
  bool truncated = false;
  uint32_t socket = 0;
  Endpoint source;
  Endpoint destination;
};

class ServiceClient : public std::enable_shared_from_this<ServiceClient> {
 public:
  // Connects and says hello. ENOENT/ECONNREFUSED: no lrpd on the path
  // (the message says how to start one); EPROTO: another protocol version.
  static Result<std::shared_ptr<ServiceClient>> connect(const ClientConfig& config = {});
  ~ServiceClient();
  ServiceClient(const ServiceClient&) = delete;
  ServiceClient& operator=(const ServiceClient&) = delete;

  Result<std::shared_ptr<ServiceApp>> create_app(const AppConfig& config = {});

  // Attached to a running lrpd right now.
  bool up() const { return up_.load(std::memory_order_acquire); }
  // Times the client re-attached after lrpd came back.
  uint64_t reattachments() const { return reattachments_.load(std::memory_order_relaxed); }
  const ClientConfig& config() const { return config_; }
  // The session id lrpd gave this process's connection (0 while down).
  uint32_t session_id() const;
  uint32_t daemon_pid() const;
  uint32_t max_payload() const;

  // Status queries (what lrpctl shows).
  Result<std::vector<Message>> query(MsgType query);

 private:
  friend class ServiceApp;
  friend class ServiceSocket;
  struct Registry;
  explicit ServiceClient(const ClientConfig& config) : config_(config) {}

  // Control requests; the caller holds control_mutex_.
  Result<Message> request(MsgType type, const void* body, size_t size,
                          std::span<const int> fds = {});
  template <class T>
  Result<Message> request(MsgType type, const T& body, std::span<const int> fds = {}) {
    return request(type, &body, sizeof(T), fds);
  }
  Status open_connection();            // connect + hello; control_mutex_ held
  Status attach_all(bool after_fork);  // apps and sockets, after (re)connecting
  void mark_down();
  void ensure_monitor();
  void monitor_loop();
  // Called at every entry: handles a fork since the last call.
  void check_fork();
  void after_fork();

  ClientConfig config_;
  mutable std::mutex control_mutex_;  // the control connection and the app registry
  UniqueFd control_;
  uint32_t session_id_ = 0;
  uint32_t daemon_pid_ = 0;
  uint32_t max_payload_ = 0;
  uint32_t seq_ = 0;
  uint64_t fork_generation_ = 0;
  std::atomic<bool> up_{false};
  std::atomic<uint64_t> reattachments_{0};
  std::vector<std::weak_ptr<ServiceApp>> apps_;
  std::vector<ServiceApp*> app_ptrs_;  // the same, for the fork handlers
  std::unique_ptr<std::thread> monitor_;
  pid_t monitor_pid_ = 0;  // the process the monitor thread runs in
  std::atomic<bool> stopping_{false};
  UniqueFd wake_monitor_;  // eventfd: stop or re-check now
};

class ServiceApp : public std::enable_shared_from_this<ServiceApp> {
 public:
  ~ServiceApp();
  ServiceApp(const ServiceApp&) = delete;
  ServiceApp& operator=(const ServiceApp&) = delete;

  // Hands a bound kernel UDP socket to lrpd (the client keeps a duplicate of
  // fd; the caller's fd stays the caller's). Binding a socket that another
  // process already attached joins that lrp socket (and its application).
  Result<std::shared_ptr<ServiceSocket>> bind(int kernel_fd);

  // Zero-copy: up to out.size() datagrams, waiting up to timeout_ms (0: no
  // wait, <0: until something arrives). Returns how many; 0 on timeout.
  Result<size_t> receive(std::span<RxDatagram> out, int timeout_ms);
  void done(RxDatagram& datagram);
  void done(std::span<RxDatagram> datagrams);
  // Hands back the entry a datagram's token() names, after the RxDatagram
  // itself was dropped (moved-from or destroyed without done(): the entry
  // stays held until this call). Tokens of an attachment that was replaced
  // (lrpd restarted) stay valid while it is among the last few.
  void done_token(uint64_t token);
  // One datagram copied into buffer; EAGAIN on timeout.
  Result<RxInfo> receive_copy(std::span<uint8_t> buffer, int timeout_ms);
  // Readable (level-triggered) while a receive may find something in the
  // ring. Owned by the app.
  int ready_fd() const { return epoll_fd_.get(); }

  Status set_weight(uint32_t weight);
  Status set_queue_bound(uint32_t bound);

  uint32_t id() const;  // lrpd's application id (changes when re-attached)
  const AppConfig& config() const { return config_; }
  std::shared_ptr<ServiceClient> client() const { return client_; }
  // Datagrams in the RX ring now (a hint).
  uint32_t rx_depth() const;
  // lrpd's information counters from the region header (TX refused for
  // spoofing, RX ring-full drops).
  uint64_t tx_rejected() const;
  uint64_t rx_ring_full() const;

 private:
  friend class ServiceClient;
  friend class ServiceSocket;
  ServiceApp(std::shared_ptr<ServiceClient> client, const AppConfig& config);

  std::shared_ptr<Attachment> attachment() const;
  // lrpd's socket id -> handle, from the current attachment.
  uint32_t handle_for(const Attachment& a, uint32_t socket_id) const;
  uint32_t handle_by_destination(const Endpoint& dst) const;
  bool take_from_ring(Attachment& a, const std::shared_ptr<Attachment>& ref, RxDatagram* out);
  void wait(Attachment* a, int timeout_ms);
  // Attachment changes (control_mutex_ held).
  Status create_remote();  // CreateApp on the current connection
  Status join_remote();    // after fork: JoinApp, or create anew
  void install(std::shared_ptr<Attachment> a);
  void detach_doorbell();

  std::shared_ptr<ServiceClient> client_;
  AppConfig config_;
  UniqueFd epoll_fd_;
  mutable std::mutex attachment_mutex_;  // a leaf lock: nothing is taken while holding it
  std::shared_ptr<Attachment> attachment_;
  std::vector<std::shared_ptr<Attachment>> retired_;   // replaced ones, for done_token
  int epoll_doorbell_ = -1;                            // the doorbell fd currently in the epoll set
  std::vector<std::weak_ptr<ServiceSocket>> sockets_;  // control_mutex_
  // Its sockets' local addresses, for datagrams delivered before lrpd's
  // socket id was known; replaced whole (copy on write).
  struct LocalRef {
    uint32_t handle;
    Endpoint local;
  };
  std::shared_ptr<const std::vector<LocalRef>> locals_;
};

class ServiceSocket {
 public:
  ~ServiceSocket();
  ServiceSocket(const ServiceSocket&) = delete;
  ServiceSocket& operator=(const ServiceSocket&) = delete;

  // Through the TX ring. `from` picks the source address of a
  // wildcard-bound socket (like IP_PKTINFO). ENOTCONN: lrpd does not serve
  // the socket right now (send on the kernel socket). EAGAIN: the TX ring
  // is full. EMSGSIZE: larger than a ring slot.
  Status send_to(const Endpoint& to, std::span<const uint8_t> payload,
                 const IpAddress* from = nullptr);
  // After the caller connect()ed the kernel socket: lrpd re-reads its
  // addresses and steers the exact flow.
  Status connect();
  Status join_group(const IpAddress& group);
  Status leave_group(const IpAddress& group);
  // Detaches from lrpd (other processes that hold the socket keep it) and
  // closes the client's duplicate of the kernel socket.
  Status close();

  uint32_t handle() const { return handle_; }
  int kernel_fd() const { return kernel_.get(); }
  bool attached() const;  // lrpd serves it right now
  const Endpoint& local() const { return local_; }
  std::optional<Endpoint> remote() const;
  std::shared_ptr<ServiceApp> app() const { return app_; }

 private:
  friend class ServiceApp;
  friend class ServiceClient;
  ServiceSocket(std::shared_ptr<ServiceApp> app, UniqueFd kernel, uint32_t handle);
  Status bind_remote();  // Bind on the current connection (control_mutex_ held)

  std::shared_ptr<ServiceApp> app_;
  UniqueFd kernel_;
  uint32_t handle_ = 0;
  Endpoint local_;
  std::optional<Endpoint> remote_;
  std::vector<IpAddress> groups_;  // to re-join after re-attaching
  bool closed_ = false;
  // lrpd's socket id in the low half, the attachment's generation in the
  // high half: a socket is served when that matches the current attachment.
  std::atomic<uint64_t> remote_id_{0};
};

}  // namespace lrp::service
