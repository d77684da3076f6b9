// lrpd: owns the interfaces (XDP program, engines, schedulers, metrics) and
// serves any number of client processes through the control socket and
// per-application shared memory. Foreground; SIGINT or SIGTERM stops it.
#include <signal.h>
#include <time.h>

#include <chrono>
#include <cstdio>
#include <memory>

#include "apps/stop_signal.h"
#include "exporters/lrp_collector.h"
#include "exporters/metrics_server.h"
#include "service/daemon/control_plane.h"
#include "service/daemon/lrpd_options.h"
#include "service/daemon/privileges.h"
#include "service/daemon/runtime_backend.h"
#include "service/daemon/server.h"
#include "service/daemon/service_metrics.h"

namespace {

int fail(const lrp::Error& e) {
  std::fprintf(stderr, "lrpd: %s\n", e.message().c_str());
  return 1;
}

uint64_t realtime_ns() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return uint64_t(ts.tv_sec) * 1'000'000'000ull + uint64_t(ts.tv_nsec);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace lrp::service;
  auto parsed = parse_lrpd_options(argc, argv);
  if (!parsed) {
    std::fprintf(stderr, "lrpd: %s\n%s", parsed.error().message().c_str(), lrpd_usage().c_str());
    return 2;
  }
  const LrpdOptions& o = parsed.value();
  if (o.help) {
    std::fputs(lrpd_usage().c_str(), stdout);
    return 0;
  }
  if (auto missing = missing_capabilities(); !missing.empty()) {
    std::string list;
    for (const auto& m : missing) list += (list.empty() ? "" : ", ") + m;
    std::fprintf(stderr,
                 "lrpd: missing privileges: %s. Run it as root, or as the systemd unit "
                 "lrpd.service, which grants exactly these.\n",
                 list.c_str());
    return 1;
  }
  auto mode = lrp::sched::parse_mode(o.mode);
  if (!mode) return fail(mode.error());
  signal(SIGPIPE, SIG_IGN);
  lrp::install_stop_handlers();

  RuntimeBackendConfig bc;
  bc.interfaces = o.interfaces;
  bc.cpus = o.cpus;
  bc.mode = mode.value();
  bc.xdp_mode = o.generic_xdp ? lrp::XdpMode::Generic : lrp::XdpMode::Native;
  auto backend = RuntimeBackend::open(bc);
  if (!backend) return fail(backend.error());

  ControlConfig cc;
  cc.epoch = realtime_ns();
  ControlPlane plane(*backend.value(), cc);
  auto server = Server::listen(o.socket_path, plane);
  if (!server) return fail(server.error());

  std::unique_ptr<lrp::exporters::MetricsServer> metrics;
  if (!o.metrics.empty()) {
    const auto sources = backend.value()->metrics_sources();
    auto combined =
        std::make_shared<CombinedCollector>(std::vector<std::shared_ptr<prometheus::Collectable>>{
            std::make_shared<lrp::exporters::LrpCollector>(sources),
            std::make_shared<ServiceCollector>(plane)});
    auto m = lrp::exporters::MetricsServer::serve(o.metrics, combined);
    if (!m) return fail(m.error());
    metrics = std::move(m.value());
  }
  if (auto st = backend.value()->start(); !st.ok()) return fail(st.error());
  for (const auto& e : backend.value()->engine_status())
    std::fprintf(stderr, "lrpd: serving %s queue %u (cpu %d, mode %s)\n", e.ifname, e.queue, e.cpu,
                 o.mode.c_str());
  std::fprintf(stderr, "lrpd: control socket %s%s%s\n", o.socket_path.c_str(),
               metrics ? ", metrics at " : "", metrics ? metrics->url().c_str() : "");

  auto st = server.value()->run(&lrp::stop_flag());
  std::fprintf(stderr, "lrpd: stopping (%zu applications, %zu sockets)\n", plane.app_count(),
               plane.socket_count());
  metrics.reset();
  plane.shutdown();  // regions say "stopped", applications and flows go
  server.value().reset();
  backend.value()->stop();
  if (!st.ok()) return fail(st.error());
  return 0;
}
