#include "sched/policy/clock.h"

#include <time.h>

namespace lrp::sched {

Nanos MonotonicClock::now() const {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return Nanos{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace lrp::sched
