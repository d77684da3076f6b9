// Time and application work for the programs: a monotonic clock, and a fixed
// amount of CPU burnt per request.
#pragma once

#include <cstdint>

namespace lrp {

int64_t monotonic_ns();
void spin_for_ns(int64_t ns);

}  // namespace lrp
