#include "exporters/histogram_snapshot.h"

#include <limits>

namespace lrp::exporters {

HistogramSnapshot read_histogram(const sched::Pow2Histogram& h) {
  constexpr size_t n = sched::Pow2Histogram::kBuckets;
  HistogramSnapshot out;
  for (size_t i = 0; i < n; ++i) {
    out.counts.push_back(h.bucket(i));
    out.upper_bounds.push_back(i + 1 < n ? static_cast<double>(sched::Pow2Histogram::upper_bound(i))
                                         : std::numeric_limits<double>::infinity());
  }
  out.sum = static_cast<double>(h.sum());
  return out;
}

}  // namespace lrp::exporters
