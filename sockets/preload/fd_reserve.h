// Room for lrp's own fds in the served program's process, and the numbers
// they take. The program keeps its RLIMIT_NOFILE: lrp raises the soft limit
// by its share (when the hard limit allows or the process may raise it) and
// puts its fds above the limit the program asked for; the program's own
// getrlimit and setrlimit see and set only the program's part. When the
// limit cannot be raised, lrp keeps to the top eighth of the program's range,
// so the program's low numbers stay free.
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <atomic>
#include <cstddef>
#include <mutex>

namespace lrp::preload {

// Defined in intercept_limits.cpp, next to the interposed getrlimit and
// setrlimit (the program's view of the limits):
// prlimit as the kernel answers it, the process's view.
int kernel_prlimit(pid_t pid, int resource, const rlimit* set, rlimit* get);
// From now on the program's RLIMIT_NOFILE calls go through the reserve;
// until then they go straight to the kernel.
void program_limits_follow_reserve();

class FdReserve {
 public:
  static FdReserve& get();

  // Once, when lrp opens its stack.
  void reserve();
  // How many fds lrp may hold for itself.
  size_t budget() const { return budget_.load(std::memory_order_relaxed); }
  // Where lrp's fds go (never the standard streams).
  int base() const { return base_.load(std::memory_order_relaxed); }

  // The program's RLIMIT_NOFILE calls (prlimit on itself included).
  int program_get(rlimit* out);
  int program_set(const rlimit& wanted);

 private:
  FdReserve() = default;
  // Places lrp's share for a program limit of `program`, raising the
  // process limit when it can. mutex_ held.
  void place(const rlimit& program);

  std::mutex mutex_;
  bool reserved_ = false;
  rlimit program_{};  // the limit as the program set it or had it
  rlimit applied_{};  // the limit lrp applied for it
  std::atomic<size_t> budget_{0};
  std::atomic<int> base_{3};
};

}  // namespace lrp::preload
