// lrpd's control socket: accepts clients on a SOCK_SEQPACKET Unix socket,
// identifies them by SO_PEERCRED, feeds their messages to the control
// plane and sends its replies (queued when a client reads slowly). One
// thread runs it; a connection that ends (EOF, even after SIGKILL) closes
// its session at once.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <string>

#include "lrp/result.h"
#include "service/daemon/control_plane.h"
#include "service/wire/unique_fd.h"

namespace lrp::service {

class Server {
 public:
  // Creates the socket's directory if needed, refuses when another lrpd
  // answers on the path (EADDRINUSE), replaces a stale socket file, and
  // makes the socket connectable by every user (mode 0666).
  static Result<std::unique_ptr<Server>> listen(const std::string& path, ControlPlane& plane);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Serves until stop() or `stop_flag` becomes true (checked every 100 ms).
  Status run(const std::atomic<bool>* stop_flag = nullptr);
  // From any thread or a signal handler.
  void stop();
  const std::string& path() const { return path_; }
  size_t connections() const { return connections_.size(); }

 private:
  struct Connection;
  explicit Server(ControlPlane& plane);
  void accept_all();
  void serve(Connection& c);
  void flush(Connection& c);
  void drop(int fd);

  ControlPlane& plane_;
  std::string path_;
  UniqueFd listen_fd_;
  UniqueFd epoll_fd_;
  UniqueFd stop_fd_;
  std::map<int, std::unique_ptr<Connection>> connections_;
};

}  // namespace lrp::service
