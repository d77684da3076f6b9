#include "tests/exporters/prometheus_server.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "tests/exporters/http_get.h"

namespace lrp::test {

namespace {

// A loopback port nobody uses now, in the calling thread's namespace.
uint16_t free_loopback_port() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(sa);
  uint16_t port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) == 0)
    port = ntohs(sa.sin_port);
  close(fd);
  return port;
}

}  // namespace

PrometheusServer::PrometheusServer(const std::string& netns, const std::string& target) {
  char dir[] = "/tmp/lrp-prometheus-XXXXXX";
  if (mkdtemp(dir) == nullptr) return;
  dir_ = dir;
  port_ = free_loopback_port();
  process_ = std::make_unique<ChildProcess>(
      std::vector<std::string>{
          "ip", "netns", "exec", netns, LRP_SOURCE_DIR "/exporters/run-prometheus.sh", "--listen",
          "127.0.0.1:" + std::to_string(port_), "--storage", dir_, "--interval", "1s", target},
      dir_ + "/prometheus.log");
}

PrometheusServer::~PrometheusServer() {
  process_.reset();
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

bool PrometheusServer::wait_ready(int timeout_ms, std::string* why) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (process_ == nullptr || !process_->running()) {
      *why = "prometheus is not running:\n" + log();
      return false;
    }
    if (http_get("127.0.0.1", port_, "/-/ready", 1000).status == 200) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  *why = "prometheus did not become ready:\n" + log();
  return false;
}

std::optional<nlohmann::json> PrometheusServer::query(const std::string& expr, double at,
                                                      std::string* why) {
  std::string path = "/api/v1/query?query=" + url_encode(expr);
  if (at > 0) {
    char t[32];
    std::snprintf(t, sizeof(t), "%.3f", at);
    path += std::string("&time=") + t;
  }
  const HttpResponse r = http_get("127.0.0.1", port_, path);
  auto body = nlohmann::json::parse(r.body, nullptr, false);
  if (r.status != 200 || body.is_discarded() || body.value("status", "") != "success") {
    if (why != nullptr) *why = expr + ": HTTP " + std::to_string(r.status) + " " + r.error + r.body;
    return std::nullopt;
  }
  return body["data"]["result"];
}

std::optional<double> PrometheusServer::value(const std::string& expr, double at,
                                              std::string* why) {
  auto result = query(expr, at, why);
  if (!result) return std::nullopt;
  if (result->size() != 1) {
    if (why != nullptr) *why = expr + ": " + std::to_string(result->size()) + " samples";
    return std::nullopt;
  }
  return std::stod((*result)[0]["value"][1].get<std::string>());
}

bool PrometheusServer::wait_for_value(const std::string& expr, double want, int timeout_ms,
                                      std::string* why) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    std::string last;
    const auto v = value(expr, 0, &last);
    if (v == want) return true;
    if (std::chrono::steady_clock::now() >= deadline) {
      *why = expr + " never became " + std::to_string(want) + " (" +
             (v ? std::to_string(*v) : last) + ")\n" + log();
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

}  // namespace lrp::test
