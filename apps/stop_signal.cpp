#include "apps/stop_signal.h"

#include <signal.h>

namespace lrp {

static std::atomic<bool> g_stop{false};

static std::atomic<bool> g_report{false};

static void on_report_signal(int) {
  g_report.store(true, std::memory_order_relaxed);
}

static void on_stop_signal(int) {
  g_stop.store(true, std::memory_order_relaxed);
}

void install_stop_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  sa.sa_handler = on_report_signal;
  sigaction(SIGUSR1, &sa, nullptr);
}

bool stop_requested() {
  return g_stop.load(std::memory_order_relaxed);
}
const std::atomic<bool>& stop_flag() {
  return g_stop;
}
bool take_report_request() {
  return g_report.exchange(false, std::memory_order_relaxed);
}

}  // namespace lrp
