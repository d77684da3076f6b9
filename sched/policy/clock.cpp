#include "sched/policy/clock.h"

#include <time.h>

namespace lrp::sched {

Nanos MonotonicClock::now() const {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1'000'000'000LL + ts.tv_nsec;
}

}  // namespace lrp::sched
