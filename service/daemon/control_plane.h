// lrpd's control plane: sessions (one per client connection), applications
// and sockets, and every check a request must pass. It owns the
// applications' shared memory and talks to the data path only through
// ServiceBackend. One thread drives it (the server's); status snapshots may
// be taken from others (metrics).
//
// Lifetimes: an application lives while at least one session holds it (the
// creator, fork children that joined it, processes that bound one of its
// kernel sockets). A socket lives while at least one session holds it, and
// never longer than its application. A session that ends (EOF, even after
// SIGKILL) drops everything it held at once.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "service/daemon/app_channel.h"
#include "service/daemon/backend.h"
#include "service/daemon/kernel_socket.h"
#include "service/protocol.h"
#include "service/wire/channel.h"
#include "service/wire/unique_fd.h"

namespace lrp::service {

struct ControlConfig {
  uint64_t epoch = 0;  // this lrpd's start time (CLOCK_REALTIME ns)
  uint32_t queue_bound = 1024;
  uint32_t held_cap = 512;
  uint32_t rx_entries = kDefaultRxEntries;
  uint32_t tx_entries = kDefaultTxEntries;
  uint32_t max_apps_per_session = 64;
  uint32_t max_sockets = 4096;
};

struct PeerCredentials {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
};

// Where replies go; the server queues what cannot be sent at once.
class Replier {
 public:
  virtual ~Replier() = default;
  virtual void reply(MsgType type, const void* body, size_t size,
                     std::span<const int> fds = {}) = 0;
  template <class T>
  void reply(MsgType type, const T& body, std::span<const int> fds = {}) {
    reply(type, &body, sizeof(T), fds);
  }
  void fail(MsgType request, const Error& error);
};

// Application labels for metrics, from any thread.
struct AppLabels {
  uint32_t app_id = 0;
  std::string name;
  uint32_t pid = 0;
  uint32_t uid = 0;
};

class ControlPlane {
 public:
  ControlPlane(ServiceBackend& backend, const ControlConfig& config);
  ~ControlPlane();
  ControlPlane(const ControlPlane&) = delete;
  ControlPlane& operator=(const ControlPlane&) = delete;

  uint32_t open_session(const PeerCredentials& peer);
  void handle(uint32_t session, const Message& request, Replier& out);
  // The connection ended: everything the session held goes at once.
  void close_session(uint32_t session);
  // About every 100 ms: heartbeats into the regions.
  void tick(uint64_t monotonic_ns);
  // lrpd stops: every region says so, every application is removed.
  void shutdown();

  size_t session_count() const;
  size_t app_count() const;
  size_t socket_count() const;
  std::vector<AppStatus> app_status() const;
  std::vector<SocketStatus> socket_status() const;
  DaemonStatus daemon_status() const;
  std::vector<AppLabels> app_labels() const;
  uint32_t max_payload() const { return slot_payload_; }

 private:
  struct Session;
  struct App;
  struct Socket;

  void hello(Session& s, const Message& m, Replier& out);
  void create_app(Session& s, const Message& m, Replier& out);
  void join_app(Session& s, const Message& m, Replier& out);
  void leave_app(Session& s, const Message& m, Replier& out);
  void detach_session(Session& s, uint32_t app_id);
  void bind(Session& s, const Message& m, Replier& out);
  void connect(Session& s, const Message& m, Replier& out);
  void close_socket(Session& s, const Message& m, Replier& out);
  void set_option(Session& s, const Message& m, Replier& out);
  void group(Session& s, const Message& m, bool join, Replier& out);
  void query(const Message& m, Replier& out);
  std::vector<AppStatus> app_status_locked() const;
  std::vector<SocketStatus> socket_status_locked() const;
  DaemonStatus daemon_status_locked() const;

  AppGrant grant_for(const App& a) const;
  void reply_grant(const App& a, Replier& out);
  void attach_app(Session& s, App& a);
  void fill_reply(const Socket& k, SocketReply* r) const;
  // Backend sockets for the kernel socket's flow on each interface it is served on.
  Result<std::vector<TxBinding::Handle>> add_flows(App& a, uint32_t socket_id,
                                                   const KernelSocketInfo& info);
  void remove_flows(App& a, const std::vector<TxBinding::Handle>& handles);
  TxBinding binding_for(const Socket& k) const;
  void release_socket(Session& s, uint32_t socket_id);
  void destroy_socket(uint32_t socket_id);
  void destroy_app(uint32_t app_id, RegionState state);
  Session* session(uint32_t id);
  App* app_held(Session& s, uint32_t app_id, const char* what, Replier& out, MsgType type);
  Socket* socket_held(Session& s, uint32_t socket_id, const char* what, Replier& out, MsgType type);

  ServiceBackend& backend_;
  ControlConfig config_;
  uint32_t slot_payload_ = 0;
  mutable std::mutex mutex_;
  uint32_t next_session_ = 1;
  uint32_t next_app_ = 1;
  uint32_t next_socket_ = 1;
  std::map<uint32_t, std::unique_ptr<Session>> sessions_;
  std::map<uint32_t, std::unique_ptr<App>> apps_;
  std::map<uint32_t, std::unique_ptr<Socket>> sockets_;
  std::map<std::pair<uint64_t, uint64_t>, uint32_t> by_inode_;  // (st_dev, st_ino) -> socket
  uint64_t tx_rejected_gone_ = 0;                               // of applications already removed
};

}  // namespace lrp::service
