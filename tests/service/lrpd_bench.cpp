#include "tests/service/lrpd_bench.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <map>

namespace lrp::test {

using namespace std::chrono_literals;
using service::MsgType;

namespace {

template <class T>
std::vector<T> records_of(const std::vector<service::Message>& messages, MsgType type) {
  std::vector<T> out;
  for (const auto& m : messages) {
    T t{};
    if (m.type == type && m.read(&t)) out.push_back(t);
  }
  return out;
}

}  // namespace

LrpdBench::LrpdBench(const std::string& tag, unsigned queues)
    : bench(tag, queues),
      socket_path("/tmp/lrp-e2e-" + tag + "-" + std::to_string(getpid()) + ".sock") {}

LrpdBench::~LrpdBench() {
  lrpd.reset();
  unlink(socket_path.c_str());
}

bool LrpdBench::start_lrpd(uint16_t metrics) {
  metrics_port = metrics;
  std::vector<std::string> args{"--iface", bench.server_if, "--socket", socket_path, "--cpus", "1"};
  if (metrics != 0) {
    args.push_back("--metrics");
    args.push_back("127.0.0.1:" + std::to_string(metrics));
  }
  lrpd = std::make_unique<ServerProcess>(bench.server_ns, "lrpd", args);
  return lrpd->wait_stderr("control socket", 20s);
}

std::unique_ptr<ServerProcess> LrpdBench::echo(std::vector<std::string> args) {
  args.insert(args.begin(), {"--socket", socket_path});
  auto p = std::make_unique<ServerProcess>(bench.server_ns, "lrp-service-echo", args);
  if (!p->wait_stderr("ready", 10s)) ADD_FAILURE() << "echo did not start: " << p->stderr_text();
  return p;
}

std::vector<std::string> LrpdBench::lrp_run(const std::vector<std::string>& command) const {
  std::vector<std::string> argv{
      "ip",       "netns",     "exec", bench.server_ns, bin_dir() + "/lrp-run",
      "--socket", socket_path, "--"};
  argv.insert(argv.end(), command.begin(), command.end());
  return argv;
}

// A fresh connection per query, from this process.
std::vector<service::Message> LrpdBench::query(MsgType query) {
  service::ClientConfig cc;
  cc.socket_path = socket_path;
  cc.name = "test";
  cc.reconnect = false;
  auto client = service::ServiceClient::connect(cc);
  if (!client) return {};
  auto answer = client.value()->query(query);
  return answer ? std::move(answer.value()) : std::vector<service::Message>{};
}

std::vector<service::AppStatus> LrpdBench::apps() {
  return records_of<service::AppStatus>(query(MsgType::QueryApps), MsgType::AppStatusRecord);
}

std::vector<service::SocketStatus> LrpdBench::sockets() {
  return records_of<service::SocketStatus>(query(MsgType::QuerySockets),
                                           MsgType::SocketStatusRecord);
}

std::vector<service::EngineStatus> LrpdBench::engines() {
  return records_of<service::EngineStatus>(query(MsgType::QueryStatus),
                                           MsgType::EngineStatusRecord);
}

service::SocketStatus LrpdBench::socket_on(uint16_t port) {
  for (const auto& s : sockets())
    if (s.local_port == port) return s;
  return service::SocketStatus{};
}

double LrpdBench::metric(const std::string& family) {
  if (metrics_port == 0) return -1;
  return metric_sum(http_get(bench.server_ns, metrics_port, "/metrics"), family);
}

TimedRequests::TimedRequests(const VethBench& bench, uint16_t port, int max) {
  thread_ = std::thread([this, ns = bench.client_ns, port, max] {
    UdpPeer p(ns, AF_INET);
    for (int i = 0; !stop_ && i < max; ++i) {
      p.send_to(VethBench::kServer4, port, "tick");
      std::string reply;
      while (p.receive(&reply, 0)) {
        std::lock_guard lock(mutex_);
        answers_.push_back(std::chrono::steady_clock::now());
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  });
}

void TimedRequests::stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

std::optional<std::chrono::steady_clock::duration> TimedRequests::first_answer_after(
    std::chrono::steady_clock::time_point t) {
  std::lock_guard lock(mutex_);
  const auto later = t + std::chrono::milliseconds(20);
  auto it = std::find_if(answers_.begin(), answers_.end(), [&](auto a) { return a > later; });
  if (it == answers_.end()) return std::nullopt;
  return *it - t;
}

size_t ping_pong(UdpPeer& peer, uint16_t port, size_t count, size_t window) {
  size_t sent = 0, answered = 0;
  const auto deadline = std::chrono::steady_clock::now() + 120s;
  std::map<std::string, bool> outstanding;
  while ((sent < count || !outstanding.empty()) && std::chrono::steady_clock::now() < deadline) {
    while (sent < count && outstanding.size() < window) {
      const std::string id = "req-" + std::to_string(sent++);
      peer.send_to(VethBench::kServer4, port, id);
      outstanding[id] = true;
    }
    std::string reply;
    if (peer.receive(&reply, 500)) {
      if (outstanding.erase(reply) == 1) ++answered;
    } else {
      outstanding.clear();  // nothing for half a second: lost
    }
  }
  return answered;
}

bool wait_for_output(const ChildProcess& p, const std::string& text,
                     std::chrono::milliseconds timeout) {
  return eventually([&] { return p.output().find(text) != std::string::npos; }, timeout);
}

uint64_t served_by(const std::string& text, std::vector<uint64_t>* per_process) {
  uint64_t total = 0;
  size_t pos = 0;
  while ((pos = text.find("served ", pos)) != std::string::npos) {
    int pid = 0;
    unsigned long long n = 0;
    if (std::sscanf(text.c_str() + pos, "served %d %llu", &pid, &n) == 2) {
      total += n;
      if (per_process != nullptr) per_process->push_back(n);
    }
    pos += 7;
  }
  return total;
}

}  // namespace lrp::test
