// A real Prometheus for tests, started through exporters/run-prometheus.sh
// inside a network namespace, on that namespace's loopback, with its data in a
// temporary directory; and its query API.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "tests/exporters/child_process.h"

namespace lrp::test {

class PrometheusServer {
 public:
  // The calling thread must be in `netns` (it picks the port there and talks
  // to Prometheus there). target: HOST:PORT of the metrics endpoint.
  PrometheusServer(const std::string& netns, const std::string& target);
  ~PrometheusServer();

  // Waits until Prometheus answers /-/ready; false (and why) on timeout.
  bool wait_ready(int timeout_ms, std::string* why);
  uint16_t port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  // /api/v1/query; `at` in Unix seconds (0: now). The "result" array, or
  // nullopt with *why set.
  std::optional<nlohmann::json> query(const std::string& expr, double at = 0,
                                      std::string* why = nullptr);
  // The value of a query that yields one sample; nullopt for none or an error.
  std::optional<double> value(const std::string& expr, double at = 0, std::string* why = nullptr);
  // Polls until the query yields `want`; false (and the last answer) on timeout.
  bool wait_for_value(const std::string& expr, double want, int timeout_ms, std::string* why);
  std::string log() const { return process_ ? process_->log() : ""; }

 private:
  std::string dir_;
  uint16_t port_ = 0;
  std::unique_ptr<ChildProcess> process_;
};

}  // namespace lrp::test
