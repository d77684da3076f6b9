// A program the test starts (Prometheus, Chromium), its output in a file, and
// stopped by its own pid when the test is done with it.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace lrp::test {

class ChildProcess {
 public:
  // stdout and stderr go to log_path.
  ChildProcess(const std::vector<std::string>& argv, const std::string& log_path);
  ~ChildProcess();  // SIGTERM, then SIGKILL if it lingers
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  bool started() const { return pid_ > 0; }
  bool running();
  // Waits for the process to end by itself; false on timeout (it keeps running).
  bool wait(int timeout_ms, int* exit_status = nullptr);
  std::string log() const;

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
  int status_ = 0;
  std::string log_path_;
};

// Reads a whole file; empty when it cannot.
std::string read_text_file(const std::string& path);

}  // namespace lrp::test
