// lrpd's metrics per application, labelled by application (id, name, pid,
// uid), next to the engines' and schedulers' own families on the host's one
// endpoint.
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <memory>
#include <vector>

#include "service/daemon/control_plane.h"

namespace lrp::service {

class ServiceCollector : public prometheus::Collectable {
 public:
  explicit ServiceCollector(const ControlPlane& plane) : plane_(plane) {}
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const ControlPlane& plane_;
};

// Several collectables behind one endpoint.
class CombinedCollector : public prometheus::Collectable {
 public:
  explicit CombinedCollector(std::vector<std::shared_ptr<prometheus::Collectable>> parts)
      : parts_(std::move(parts)) {}
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  std::vector<std::shared_ptr<prometheus::Collectable>> parts_;
};

}  // namespace lrp::service
