// A private test bench: two network namespaces joined by a veth pair,
// addressed from the benchmarking ranges only, removed on destruction.
#pragma once

#include <string>

namespace lrp::test {

// Runs a shell command; returns its exit status (0 on success).
int run(const std::string& command);

// Enters a named network namespace for the calling thread; restores on destruction.
class NetnsGuard {
 public:
  explicit NetnsGuard(const std::string& netns);
  ~NetnsGuard();
  NetnsGuard(const NetnsGuard&) = delete;
  NetnsGuard& operator=(const NetnsGuard&) = delete;
  bool ok() const { return ok_; }

 private:
  int saved_fd_ = -1;
  bool ok_ = false;
};

struct VethBench {
  // tag: a short word naming the test; the bench's names add the pid and a
  // counter. queues: receive and transmit queues of each end (a multi-queue
  // device: a frame lands on the peer's receive queue of its sender's
  // transmit queue, chosen per flow and sending CPU).
  explicit VethBench(const std::string& tag, unsigned queues = 1);
  ~VethBench();
  VethBench(const VethBench&) = delete;
  VethBench& operator=(const VethBench&) = delete;

  bool ok = false;
  std::string server_ns, client_ns;  // namespace names
  std::string server_if, client_if;  // veth ends
  // Server side holds lrp; client side runs ordinary kernel sockets.
  static constexpr const char* kServer4 = "198.18.0.1";
  static constexpr const char* kClient4 = "198.18.0.2";
  static constexpr const char* kServer6 = "2001:2::1";
  static constexpr const char* kClient6 = "2001:2::2";
};

// Removes namespaces left by test processes that no longer exist.
void remove_stale_benches();

}  // namespace lrp::test
