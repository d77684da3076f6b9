// lrpd's control plane and control socket over a fake backend, serving a
// private socket path from a thread: what the unprivileged tests talk to.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "service/daemon/control_plane.h"
#include "service/daemon/server.h"
#include "tests/service/fake_backend.h"

namespace lrp::service::test {

// A socket path unique to this process and call.
std::string unique_socket_path(const std::string& tag);

class FakeDaemon {
 public:
  explicit FakeDaemon(const std::string& path, ControlConfig config = {});
  ~FakeDaemon();
  // Stops serving as a dying lrpd would: connections and regions go.
  void kill();
  // Serves again on the same path (a restarted lrpd), with a fresh plane.
  void restart();
  bool ok() const { return ok_; }

  FakeBackend backend;
  std::unique_ptr<ControlPlane> plane;
  const std::string path;

 private:
  void start();
  ControlConfig config_;
  std::unique_ptr<Server> server_;
  std::thread thread_;
  bool ok_ = false;
};

// Waits up to timeout_ms for pred() to hold.
template <class Pred>
bool eventually(Pred pred, int timeout_ms = 2000) {
  for (int waited = 0; waited < timeout_ms; waited += 5) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return pred();
}

}  // namespace lrp::service::test
