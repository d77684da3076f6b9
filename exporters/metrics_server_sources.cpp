// MetricsServer over lrp's own counters; serve() and the HTTP side are in
// metrics_server.cpp, which needs no engine.
#include "exporters/lrp_collector.h"
#include "exporters/metrics_server.h"

namespace lrp::exporters {

Result<std::unique_ptr<MetricsServer>> MetricsServer::start(const std::string& host_port,
                                                            Engine& engine,
                                                            sched::Scheduler* scheduler) {
  return start(host_port, {MetricsSource{&engine, scheduler}});
}

Result<std::unique_ptr<MetricsServer>> MetricsServer::start(const std::string& host_port,
                                                            std::vector<MetricsSource> sources) {
  for (const MetricsSource& s : sources)
    if (s.engine == nullptr) return make_error(EINVAL, "metrics: a source without an engine");
  return serve(host_port, std::make_shared<LrpCollector>(std::move(sources)));
}

}  // namespace lrp::exporters
