#include "exporters/lrp_collector.h"

#include "exporters/families.h"
#include "exporters/read_snapshot.h"

namespace lrp::exporters {

LrpCollector::LrpCollector(std::vector<MetricsSource> sources)
    : sources_(std::move(sources)), read_errors_(sources_.size(), 0) {}

std::vector<prometheus::MetricFamily> LrpCollector::Collect() const {
  std::lock_guard lock(mutex_);
  std::vector<EngineSnapshot> snapshots;
  snapshots.reserve(sources_.size());
  for (size_t i = 0; i < sources_.size(); ++i)
    snapshots.push_back(
        read_snapshot(*sources_[i].engine, sources_[i].scheduler, &read_errors_[i]));
  return to_families(snapshots);
}

}  // namespace lrp::exporters
