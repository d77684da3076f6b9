// The scheduler's power-of-two histograms as snapshot buckets.
#pragma once

#include "exporters/snapshot.h"
#include "sched/runtime/histogram.h"

namespace lrp::exporters {

// Bucket i of Pow2Histogram counts values in (2^(i-1), 2^i]; its last bucket
// also takes every larger value, so its bound becomes +Inf.
HistogramSnapshot read_histogram(const sched::Pow2Histogram& h);

}  // namespace lrp::exporters
