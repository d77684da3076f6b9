// lrpd as a process on the server side of a veth bench, with what the
// service tests ask of it: its status records, its metrics, and request
// streams from kernel peers on the client side.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "service/client/client.h"
#include "tests/preload/child_process.h"
#include "tests/reliability/server_process.h"
#include "tests/support/netns.h"
#include "tests/support/udp_peer.h"

namespace lrp::test {

class LrpdBench {
 public:
  explicit LrpdBench(const std::string& tag, unsigned queues = 1);
  ~LrpdBench();

  // Starts lrpd on the bench's server interface (engine on CPU 1); with a
  // metrics port, its metrics endpoint on 127.0.0.1 of the server namespace.
  bool start_lrpd(uint16_t metrics_port = 0);
  // lrp-service-echo (native API) attached to this lrpd; waits for "ready".
  std::unique_ptr<ServerProcess> echo(std::vector<std::string> args);
  // `ip netns exec SERVER lrp-run --socket PATH -- CMD...`, for ChildProcess.
  std::vector<std::string> lrp_run(const std::vector<std::string>& command) const;

  std::vector<service::AppStatus> apps();
  std::vector<service::SocketStatus> sockets();
  std::vector<service::EngineStatus> engines();
  // lrpd's socket record for a local port, or a zeroed one.
  service::SocketStatus socket_on(uint16_t port);
  // The sum of a metric family in lrpd's metrics (start_lrpd with a port).
  double metric(const std::string& family);

  VethBench bench;
  std::string socket_path;
  uint16_t metrics_port = 0;
  std::unique_ptr<ServerProcess> lrpd;

 private:
  std::vector<service::Message> query(service::MsgType query);
};

template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout = std::chrono::seconds(3)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return pred();
}

// Sends `count` numbered requests to the bench's server address, at most
// `window` unanswered at a time; returns how many were answered with the
// same payload. Half a second without an answer counts the outstanding ones
// lost. Bounded by two minutes.
size_t ping_pong(UdpPeer& peer, uint16_t port, size_t count, size_t window);

// A steady stream of requests to a port of the bench's server, one every
// 2 ms (at most `max`), each answer timed; stops when destroyed.
class TimedRequests {
 public:
  TimedRequests(const VethBench& bench, uint16_t port, int max);
  ~TimedRequests() { stop(); }
  void stop();
  // From `t` to the first answer that came more than 20 ms after it.
  std::optional<std::chrono::steady_clock::duration> first_answer_after(
      std::chrono::steady_clock::time_point t);

 private:
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::vector<std::chrono::steady_clock::time_point> answers_;
  std::thread thread_;
};

// Waits until a program's output holds `text`.
bool wait_for_output(const ChildProcess& p, const std::string& text,
                     std::chrono::milliseconds timeout);

// "served PID N" lines: their total, and each N in *per_process.
uint64_t served_by(const std::string& text, std::vector<uint64_t>* per_process);

}  // namespace lrp::test
