// Snapshots to Prometheus metric families, named and typed as family_specs()
// says. Pure: no reads of live counters here.
#pragma once

#include <prometheus/metric_family.h>

#include <span>
#include <vector>

#include "exporters/snapshot.h"

namespace lrp::exporters {

// One family per name across all engines; families without samples are left out.
std::vector<prometheus::MetricFamily> to_families(std::span<const EngineSnapshot> engines);

// Cumulative buckets as Prometheus wants them; the bucket counts are summed
// here, so the +Inf bucket always equals the sample count.
prometheus::ClientMetric::Histogram to_histogram(const HistogramSnapshot& h);

}  // namespace lrp::exporters
