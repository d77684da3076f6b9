// lrp-burn: CPU-bound background threads on one core, to compete with a
// server for its CPU (the forwarding experiment). Bounded by --duration.
#include <sched.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "apps/options.h"
#include "apps/spin.h"
#include "apps/stop_signal.h"

int main(int argc, char** argv) {
  int threads = 1, cpu = -1;
  double duration_s = 10;
  lrp::cli::CommandLine cl("lrp-burn",
                           "CPU-bound background threads on one core, to compete with a server "
                           "for its CPU.");
  cl.option("--threads", "N", "spinning threads (0..64, default 1)",
            lrp::cli::integer(&threads, 0, 64));
  cl.option("--cpu", "C", "pin every thread to this CPU",
            lrp::cli::integer(&cpu, 0, CPU_SETSIZE - 1));
  cl.option("--duration", "S", "stop after S seconds (default 10, at most 3600)",
            lrp::cli::real(&duration_s, 0.001, 3600));
  if (auto exit = cl.parse_or_exit(argc, argv)) return *exit;
  lrp::install_stop_handlers();
  const int64_t end = lrp::monotonic_ns() + static_cast<int64_t>(duration_s * 1e9);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&] {
      (void)lrp::pin_to_cpu(cpu);
      while (!lrp::stop_requested() && lrp::monotonic_ns() < end) lrp::spin_for_ns(100'000);
    });
  for (auto& t : pool) t.join();
  return 0;
}
