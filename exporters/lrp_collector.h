// The Prometheus collectable for lrp: at each scrape it reads every counter
// and histogram of its engines and schedulers and builds the metric families
// directly. Nothing is registered or updated between scrapes.
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <cstdint>
#include <mutex>
#include <vector>

#include "exporters/metrics_source.h"

namespace lrp::exporters {

class LrpCollector : public prometheus::Collectable {
 public:
  explicit LrpCollector(std::vector<MetricsSource> sources);
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  std::vector<MetricsSource> sources_;
  // Scrapes may arrive on several server threads at once.
  mutable std::mutex mutex_;
  mutable std::vector<uint64_t> read_errors_;  // per source
};

}  // namespace lrp::exporters
