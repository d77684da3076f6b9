#include "tests/preload/child_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "tests/support/netns.h"

namespace lrp::test {

ChildProcess::ChildProcess(const std::vector<std::string>& argv, const std::string& out_path)
    : out_path_(out_path) {
  pid_ = fork();
  if (pid_ == 0) {
    const int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (out >= 0) {
      dup2(out, 1);
      dup2(out, 2);
      close(out);
    }
    setpgid(0, 0);
    // The programs served under test (sockperf, iperf3) are not ours: in a
    // sanitizer build their exit-time allocations are not lrp's leaks.
    const char* asan = getenv("ASAN_OPTIONS");
    const std::string options = std::string(asan != nullptr ? asan : "") +
                                (asan != nullptr && *asan != '\0' ? ":" : "") + "detect_leaks=0";
    setenv("ASAN_OPTIONS", options.c_str(), 1);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
}

ChildProcess::~ChildProcess() {
  stop();
}

int ChildProcess::wait(int timeout_ms) {
  if (pid_ <= 0) return status_;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    int status = 0;
    const pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      return status_;
    }
    if (std::chrono::steady_clock::now() >= deadline) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

int ChildProcess::stop(int signal) {
  if (pid_ <= 0) return status_;
  kill(pid_, signal);
  if (wait(3000) >= 0) return status_;
  kill(-pid_, SIGKILL);
  kill(pid_, SIGKILL);
  return wait(3000);
}

std::string ChildProcess::output() const {
  std::ifstream in(out_path_);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

int run_capture(const std::vector<std::string>& argv, int timeout_ms, std::string* output) {
  const std::string path = temp_path("run");
  int status;
  {
    ChildProcess p(argv, path);
    status = p.wait(timeout_ms);
    if (status < 0) p.stop();
    if (output != nullptr) *output = p.output();
  }
  unlink(path.c_str());
  return status;
}

std::string http_get(const std::string& netns, uint16_t port, const std::string& path) {
  int fd = -1;
  {
    NetnsGuard in_ns(netns);
    if (!in_ns.ok()) return {};
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  }
  if (fd < 0) return {};
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string response;
  if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0) {
    const std::string request =
        "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
        static_cast<ssize_t>(request.size())) {
      char buf[16384];
      for (;;) {
        pollfd p{fd, POLLIN, 0};
        if (poll(&p, 1, 5000) != 1) break;
        const ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n <= 0) break;
        response.append(buf, static_cast<size_t>(n));
      }
    }
  }
  close(fd);
  const size_t body = response.find("\r\n\r\n");
  if (response.rfind("HTTP/1.", 0) != 0 || response.find(" 200 ") == std::string::npos ||
      body == std::string::npos)
    return {};
  return response.substr(body + 4);
}

std::string scrape_lrp_metrics(const std::string& netns, uint16_t port, int timeout_ms) {
  for (int waited = 0;; waited += 50) {
    std::string scrape = http_get(netns, port, "/metrics");
    if (scrape.find("lrp_xdp_seen_total") != std::string::npos) return scrape;
    if (waited >= timeout_ms) return {};
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

long long number_after(const std::string& text, const std::string& marker) {
  const size_t at = text.find(marker);
  if (at == std::string::npos) return -1;
  size_t i = at + marker.size();
  if (i >= text.size() || text[i] < '0' || text[i] > '9') return -1;
  long long n = 0;
  for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) n = n * 10 + (text[i] - '0');
  return n;
}

double metric_sum(const std::string& scrape, const std::string& name) {
  std::istringstream in(scrape);
  std::string line;
  double sum = 0;
  while (std::getline(in, line)) {
    if (line.rfind(name, 0) != 0) continue;
    const char next = line.size() > name.size() ? line[name.size()] : '\0';
    if (next != '{' && next != ' ') continue;
    sum += std::atof(line.substr(line.rfind(' ') + 1).c_str());
  }
  return sum;
}

std::string bin_dir() {
  return LRP_BIN_DIR;
}

std::string temp_path(const std::string& tag) {
  static int counter = 0;
  return "/tmp/lrp-preload-" + tag + "-" + std::to_string(getpid()) + "-" +
         std::to_string(counter++) + ".out";
}

}  // namespace lrp::test
