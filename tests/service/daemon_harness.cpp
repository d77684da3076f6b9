#include "tests/service/daemon_harness.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>

namespace lrp::service::test {

std::string unique_socket_path(const std::string& tag) {
  static std::atomic<int> counter{0};
  return "/tmp/lrp-test-" + tag + "-" + std::to_string(getpid()) + "-" +
         std::to_string(counter.fetch_add(1)) + "/lrpd.sock";
}

FakeDaemon::FakeDaemon(const std::string& p, ControlConfig config) : path(p), config_(config) {
  start();
}

FakeDaemon::~FakeDaemon() {
  kill();
  const auto slash = path.rfind('/');
  rmdir(path.substr(0, slash).c_str());
}

void FakeDaemon::start() {
  config_.epoch = static_cast<uint64_t>(std::chrono::system_clock::now().time_since_epoch() /
                                        std::chrono::nanoseconds(1));
  plane = std::make_unique<ControlPlane>(backend, config_);
  auto server = Server::listen(path, *plane);
  if (!server) {
    std::fprintf(stderr, "fake lrpd: %s\n", server.error().message().c_str());
    ok_ = false;
    return;
  }
  server_ = std::move(server.value());
  thread_ = std::thread([this] { (void)server_->run(); });
  ok_ = true;
}

void FakeDaemon::kill() {
  if (server_) {
    server_->stop();
    thread_.join();
    server_.reset();  // closes every connection: clients see the hang-up
  }
  plane.reset();
}

void FakeDaemon::restart() {
  kill();
  start();
}

}  // namespace lrp::service::test
