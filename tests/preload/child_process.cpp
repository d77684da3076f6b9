#include "tests/preload/child_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

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
