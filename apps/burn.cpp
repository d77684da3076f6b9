// lrp-burn: CPU-bound background threads on one core, to compete with a
// server for its CPU (the forwarding experiment). Bounded by --duration.
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
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string arg = argv[i];
    if (arg == "--threads")
      threads = std::atoi(argv[i + 1]);
    else if (arg == "--cpu")
      cpu = std::atoi(argv[i + 1]);
    else if (arg == "--duration")
      duration_s = std::atof(argv[i + 1]);
    else
      argc = 0;  // unknown option
  }
  if (argc % 2 == 0 || threads < 0 || threads > 64 || duration_s <= 0 || duration_s > 3600) {
    std::fprintf(stderr,
                 "usage: lrp-burn --threads N (0..64) [--cpu C] [--duration S (0..3600)]\n");
    return 2;
  }
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
