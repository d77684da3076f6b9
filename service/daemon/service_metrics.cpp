#include "service/daemon/service_metrics.h"

#include <string>

#include "service/wire/channel.h"

namespace lrp::service {

namespace {

prometheus::MetricFamily family(const std::string& name, const std::string& help,
                                prometheus::MetricType type) {
  prometheus::MetricFamily f;
  f.name = name;
  f.help = help;
  f.type = type;
  return f;
}

std::vector<prometheus::ClientMetric::Label> app_labels(const AppStatus& a) {
  return {{"app", std::to_string(a.app_id)},
          {"name", get_name(a.name, sizeof(a.name))},
          {"pid", std::to_string(a.pid)},
          {"uid", std::to_string(a.uid)}};
}

void add(prometheus::MetricFamily& f, std::vector<prometheus::ClientMetric::Label> labels,
         double value) {
  prometheus::ClientMetric m;
  m.label = std::move(labels);
  if (f.type == prometheus::MetricType::Counter) {
    m.counter.value = value;
  } else {
    m.gauge.value = value;
  }
  f.metric.push_back(std::move(m));
}

}  // namespace

std::vector<prometheus::MetricFamily> ServiceCollector::Collect() const {
  using prometheus::MetricType;
  const DaemonStatus d = plane_.daemon_status();
  const auto apps = plane_.app_status();
  auto sessions = family("lrpd_sessions", "Client connections to lrpd", MetricType::Gauge);
  add(sessions, {}, d.sessions);
  auto sockets = family("lrpd_sockets", "Kernel sockets lrpd serves", MetricType::Gauge);
  add(sockets, {}, d.sockets);
  auto info = family("lrpd_app_info", "Applications attached to lrpd", MetricType::Gauge);
  auto delivered =
      family("lrpd_app_delivered_total", "Datagrams copied into the application's receive ring",
             MetricType::Counter);
  auto drops = family("lrpd_app_drops_total", "Datagrams dropped for the application, by reason",
                      MetricType::Counter);
  auto charged =
      family("lrpd_app_protocol_cpu_seconds_total",
             "Protocol processing CPU time charged to the application", MetricType::Counter);
  auto sent = family("lrpd_app_tx_sent_total", "Datagrams sent from the application's ring",
                     MetricType::Counter);
  auto rejected =
      family("lrpd_app_tx_rejected_total", "Transmit entries refused: not from one of its bindings",
             MetricType::Counter);
  auto depth = family("lrpd_app_rx_ring_depth", "Datagrams in the application's receive ring",
                      MetricType::Gauge);
  auto weight = family("lrpd_app_weight", "The application's scheduling weight", MetricType::Gauge);
  static const char* kReasons[kDropCount] = {"ring_full", "shed", "kernel_ring_full", "invalid"};
  for (const AppStatus& a : apps) {
    add(info, app_labels(a), 1);
    add(delivered, app_labels(a), static_cast<double>(a.delivered));
    for (uint32_t r = 0; r < kDropCount; ++r) {
      auto labels = app_labels(a);
      labels.push_back({"reason", kReasons[r]});
      add(drops, labels, static_cast<double>(a.drops[r]));
    }
    add(charged, app_labels(a), static_cast<double>(a.charged_ns) / 1e9);
    add(sent, app_labels(a), static_cast<double>(a.tx_sent));
    add(rejected, app_labels(a), static_cast<double>(a.tx_rejected));
    add(depth, app_labels(a), a.rx_depth);
    add(weight, app_labels(a), a.weight);
  }
  std::vector<prometheus::MetricFamily> out{sessions, sockets};
  for (auto* f : {&info, &delivered, &drops, &charged, &sent, &rejected, &depth, &weight})
    if (!f->metric.empty()) out.push_back(std::move(*f));
  return out;
}

std::vector<prometheus::MetricFamily> CombinedCollector::Collect() const {
  std::vector<prometheus::MetricFamily> out;
  for (const auto& p : parts_) {
    auto part = p->Collect();
    out.insert(out.end(), std::make_move_iterator(part.begin()),
               std::make_move_iterator(part.end()));
  }
  return out;
}

}  // namespace lrp::service
