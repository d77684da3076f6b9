#include "exporters/metrics_server.h"

#include <civetweb.h>
#include <prometheus/exposer.h>

#include <exception>

#include "exporters/listen_address.h"

namespace lrp::exporters {

Result<std::unique_ptr<MetricsServer>> MetricsServer::serve(
    const std::string& host_port, std::shared_ptr<prometheus::Collectable> collectable) {
  auto address = parse_listen_address(host_port);
  if (!address) return address.error();
  // civetweb's feature 8 is IPv6; Debian builds it without.
  if (address->v6 && mg_check_feature(8) == 0)
    return make_error(EAFNOSUPPORT, "metrics: cannot listen on " + host_port +
                                        ": the embedded web server (civetweb) has no IPv6");
  LRP_TRY(check_can_listen(address.value(), host_port));
  std::unique_ptr<MetricsServer> server(new MetricsServer());
  server->collectable_ = std::move(collectable);
  try {
    // Two threads: Prometheus and a person's browser or curl do not wait on
    // each other.
    server->exposer_ = std::make_unique<prometheus::Exposer>(address->server_form(), 2);
  } catch (const std::exception& e) {
    return make_error(0, "metrics: cannot listen on " + host_port + ": " + e.what());
  }
  server->exposer_->RegisterCollectable(server->collectable_);
  const std::vector<int> ports = server->exposer_->GetListeningPorts();
  server->port_ = ports.empty() ? address->port : static_cast<uint16_t>(ports.front());
  ListenAddress bound = address.value();
  bound.port = server->port_;
  server->url_ = "http://" + bound.server_form() + "/metrics";
  return server;
}

MetricsServer::~MetricsServer() = default;

}  // namespace lrp::exporters
