// Programs the drop-in tests start: a command line run in the background
// with its output in a file, stopped and reaped by the test.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace lrp::test {

class ChildProcess {
 public:
  // Runs argv (argv[0] looked up on PATH) with stdout and stderr in out_path.
  ChildProcess(const std::vector<std::string>& argv, const std::string& out_path);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  bool started() const { return pid_ > 0; }
  // Exit status, or -1 if it did not end within timeout_ms (it is then killed).
  int wait(int timeout_ms);
  // The signal, then SIGKILL after a grace period; returns the exit status.
  int stop(int signal = SIGTERM);
  std::string output() const;

 private:
  pid_t pid_ = -1;
  std::string out_path_;
  int status_ = -1;
};

// Runs a command to completion (bounded by timeout_ms); returns its exit
// status and puts its output in *output.
int run_capture(const std::vector<std::string>& argv, int timeout_ms, std::string* output);

// GET http://127.0.0.1:PORT/PATH from inside a network namespace; the body,
// or empty on failure.
std::string http_get(const std::string& netns, uint16_t port, const std::string& path);

// lrp's metrics from inside a namespace once its exporter is up (it starts
// with a server's first lrp socket): the first scrape within timeout_ms that
// has lrp's XDP counters, or empty.
std::string scrape_lrp_metrics(const std::string& netns, uint16_t port, int timeout_ms);

// The number right after the first `marker` in text; -1 when there is none.
long long number_after(const std::string& text, const std::string& marker);

// Sum of every sample of a Prometheus metric family in a scrape.
double metric_sum(const std::string& scrape, const std::string& name);

std::string bin_dir();
std::string temp_path(const std::string& tag);

}  // namespace lrp::test
