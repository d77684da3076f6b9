#include "apps/stop_signal.h"

#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace lrp {

static std::atomic<bool> g_stop{false};

static std::atomic<bool> g_report{false};

// Written by the handlers (write is async-signal-safe) so that a sleeping
// main thread wakes at once.
static int g_wake_fd = -1;

static void wake_main_thread() {
  if (g_wake_fd < 0) return;
  const uint64_t one = 1;
  (void)!write(g_wake_fd, &one, sizeof(one));
}

static void on_report_signal(int) {
  g_report.store(true, std::memory_order_relaxed);
  wake_main_thread();
}

static void on_stop_signal(int) {
  g_stop.store(true, std::memory_order_relaxed);
  wake_main_thread();
}

void install_stop_handlers() {
  if (g_wake_fd < 0) g_wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
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

void serve_until_stopped(double duration_s, const std::function<void()>& report) {
  using Clock = std::chrono::steady_clock;
  const auto end = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                      std::chrono::duration<double>(duration_s));
  // Without the wake-up fd (eventfd failed) the loop still works, by looking
  // every few milliseconds.
  constexpr int kLookMs = 1000, kLookWithoutFdMs = 5;
  while (!stop_requested()) {
    if (take_report_request()) report();
    int timeout_ms = g_wake_fd >= 0 ? kLookMs : kLookWithoutFdMs;
    if (duration_s > 0) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(end - Clock::now()).count();
      if (left <= 0) break;
      timeout_ms = static_cast<int>(std::min<int64_t>(timeout_ms, left));
    }
    pollfd p{g_wake_fd, POLLIN, 0};
    if (poll(&p, g_wake_fd >= 0 ? 1 : 0, timeout_ms) > 0) {
      uint64_t count = 0;
      (void)!read(g_wake_fd, &count, sizeof(count));
    }
  }
}

}  // namespace lrp
