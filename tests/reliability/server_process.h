// An lrp program run as a real process inside a bench namespace (entered
// with setns in the child, so the pid is the program's own and signals
// reach it), its stderr kept in a file for the test to read.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace lrp::test {

class ServerProcess {
 public:
  // program: a file name in LRP_BIN_DIR, e.g. "lrp-echo".
  ServerProcess(const std::string& netns, const std::string& program,
                const std::vector<std::string>& args);
  ~ServerProcess();  // SIGKILL if still running
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  pid_t pid() const { return pid_; }
  void signal(int sig);
  // The wait status once it exited within `timeout`, nullopt otherwise.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);
  bool running();
  std::string stderr_text() const;
  // Waits until stderr contains `text`.
  bool wait_stderr(const std::string& text, std::chrono::milliseconds timeout) const;

 private:
  pid_t pid_ = -1;
  std::optional<int> status_;  // once reaped
  std::string stderr_path_;
};

}  // namespace lrp::test
