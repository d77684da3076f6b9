// The metrics endpoint: an HTTP server on HOST:PORT whose /metrics is scraped
// by Prometheus (pull model). Every scrape reads the live counters then; the
// data path does nothing for it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "exporters/metrics_source.h"
#include "lrp/result.h"

namespace prometheus {
class Collectable;
class Exposer;
}  // namespace prometheus

namespace lrp::exporters {

class MetricsServer {
 public:
  // Serves the engine's counters and, when given, its scheduler's. HOST:PORT
  // as "127.0.0.1:9100", "[::1]:9100" or "localhost:9100"; port 0 lets the
  // kernel choose (see port()). The engine and scheduler must outlive the
  // server.
  static Result<std::unique_ptr<MetricsServer>> start(const std::string& host_port, Engine& engine,
                                                      sched::Scheduler* scheduler = nullptr);
  // Several engines behind one endpoint (one per interface or queue).
  static Result<std::unique_ptr<MetricsServer>> start(const std::string& host_port,
                                                      std::vector<MetricsSource> sources);
  // Any collectable; what the two above use.
  static Result<std::unique_ptr<MetricsServer>> serve(
      const std::string& host_port, std::shared_ptr<prometheus::Collectable> collectable);

  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  uint16_t port() const { return port_; }
  // "http://127.0.0.1:9100/metrics"
  const std::string& url() const { return url_; }

 private:
  MetricsServer() = default;
  std::shared_ptr<prometheus::Collectable> collectable_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  uint16_t port_ = 0;
  std::string url_;
};

}  // namespace lrp::exporters
