// What the exporter reads: an engine and, when it has one, its scheduler.
#pragma once

namespace lrp {
class Engine;
namespace sched {
class Scheduler;
}
}  // namespace lrp

namespace lrp::exporters {

// Both must outlive whatever exports them.
struct MetricsSource {
  Engine* engine = nullptr;
  const sched::Scheduler* scheduler = nullptr;
};

}  // namespace lrp::exporters
