#include "tests/reliability/server_process.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <sstream>
#include <thread>

namespace lrp::test {

ServerProcess::ServerProcess(const std::string& netns, const std::string& program,
                             const std::vector<std::string>& args) {
  static std::atomic<int> counter{0};
  stderr_path_ = "/tmp/lrp-reliability-" + std::to_string(getpid()) + "-" +
                 std::to_string(counter++) + ".stderr";
  const std::string bin = std::string(LRP_BIN_DIR) + "/" + program;
  const std::string ns_path = "/var/run/netns/" + netns;
  std::vector<std::string> argv_text = {bin};
  argv_text.insert(argv_text.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_text) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_ = fork();
  if (pid_ == 0) {
    const int ns = open(ns_path.c_str(), O_RDONLY | O_CLOEXEC);
    const int err = open(stderr_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    const int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (ns < 0 || err < 0 || null < 0 || setns(ns, CLONE_NEWNET) != 0) _exit(126);
    dup2(err, STDERR_FILENO);
    dup2(null, STDOUT_FILENO);
    execv(bin.c_str(), argv.data());
    _exit(127);
  }
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0 && running()) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  unlink(stderr_path_.c_str());
}

void ServerProcess::signal(int sig) {
  if (pid_ > 0) kill(pid_, sig);
}

bool ServerProcess::running() {
  if (pid_ <= 0) return false;
  int status = 0;
  const pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == 0) return true;
  if (r == pid_) status_ = status;
  pid_ = -1;
  return false;
}

std::optional<int> ServerProcess::wait_exit(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (running()) {
    if (std::chrono::steady_clock::now() > deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return status_;
}

std::string ServerProcess::stderr_text() const {
  std::ifstream in(stderr_path_);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

bool ServerProcess::wait_stderr(const std::string& text, std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (stderr_text().find(text) == std::string::npos) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

}  // namespace lrp::test
