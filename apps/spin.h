// Application work for experiments: burn a fixed amount of CPU per request.
#pragma once

#include <cstdint>

namespace lrp {

void spin_for_ns(int64_t ns);

}  // namespace lrp
