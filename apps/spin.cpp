#include "apps/spin.h"

#include <time.h>

namespace lrp {

int64_t monotonic_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1'000'000'000LL + ts.tv_nsec;
}

void spin_for_ns(int64_t ns) {
  if (ns <= 0) return;
  const int64_t end = monotonic_ns() + ns;
  while (monotonic_ns() < end) {
  }
}

}  // namespace lrp
