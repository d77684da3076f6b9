#include "exporters/families.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <string>

#include "exporters/family_specs.h"

namespace lrp::exporters {

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;
using Labels = std::vector<ClientMetric::Label>;

Labels with(Labels labels, std::initializer_list<ClientMetric::Label> more) {
  labels.insert(labels.end(), more);
  return labels;
}

double seconds(uint64_t ns) {
  return static_cast<double>(ns) / 1e9;
}

// Collects samples into families in the order of first use.
class FamilySet {
 public:
  void counter(std::string_view name, Labels labels, double value) {
    ClientMetric m;
    m.label = std::move(labels);
    m.counter.value = value;
    add(name, MetricType::Counter, std::move(m));
  }
  void gauge(std::string_view name, Labels labels, double value) {
    ClientMetric m;
    m.label = std::move(labels);
    m.gauge.value = value;
    add(name, MetricType::Gauge, std::move(m));
  }
  void histogram(std::string_view name, Labels labels, const HistogramSnapshot& h) {
    ClientMetric m;
    m.label = std::move(labels);
    m.histogram = to_histogram(h);
    add(name, MetricType::Histogram, std::move(m));
  }
  std::vector<MetricFamily> take() { return std::move(families_); }

 private:
  void add(std::string_view name, MetricType type, ClientMetric metric) {
    auto it = index_.find(std::string(name));
    if (it == index_.end()) {
      const FamilySpec* spec = find_family_spec(name);
      // A family missing from the table, or used with another type, is a bug
      // that the unit tests catch; the scrape still goes out without it.
      if (spec == nullptr || spec->type != type) return;
      MetricFamily f;
      f.name = std::string(spec->name);
      f.help = std::string(spec->help);
      f.type = type;
      it = index_.emplace(f.name, families_.size()).first;
      families_.push_back(std::move(f));
    }
    families_[it->second].metric.push_back(std::move(metric));
  }

  std::vector<MetricFamily> families_;
  std::map<std::string, size_t> index_;
};

constexpr const char* kSlotOutcomes[LRP_SLOT_COUNTER_MAX] = {"redirected", "shed", "malformed",
                                                             "empty"};

struct PassReason {
  lrp_global_counter counter;
  const char* name;
};
constexpr PassReason kPassReasons[] = {
    {LRP_G_PASS_NOT_IP, "not_ip"},         {LRP_G_PASS_NOT_UDP, "not_udp"},
    {LRP_G_PASS_FRAGMENT, "fragment"},     {LRP_G_PASS_MALFORMED, "malformed"},
    {LRP_G_PASS_IPV6_EXT, "ipv6_ext"},     {LRP_G_PASS_NO_FLOW, "no_flow"},
    {LRP_G_PASS_SLOT_EMPTY, "slot_empty"}, {LRP_G_PASS_QUEUE, "queue"},
    {LRP_G_PASS_OTHER_VLAN, "other_vlan"}, {LRP_G_PASS_OTHER_MAC, "other_mac"},
    {LRP_G_PASS_NOT_LOCAL, "not_local"},   {LRP_G_PASS_NOT_JOINED, "not_joined"},
};

// The XDP program counts per interface-wide slot, so every queue's engine
// reads the same per-socket XDP numbers: only the first engine of an
// interface reports them, so that sums over queues stay true.
using XdpSlotsSeen = std::set<std::pair<std::string, uint32_t>>;

void add_socket(FamilySet& out, const Labels& engine, const SocketSnapshot& s, bool with_xdp) {
  Labels l = engine;
  if (!s.app.empty()) l.push_back({"app", s.app});
  l.push_back({"socket", s.socket});
  l.push_back({"slot", std::to_string(s.slot)});
  auto count = [](uint64_t v) { return static_cast<double>(v); };

  out.counter("lrp_datagrams_delivered_total", l, count(s.delivered));
  out.counter("lrp_bytes_delivered_total", l, count(s.delivered_bytes));
  if (s.kernel) {
    out.counter("lrp_drops_total", with(l, {{"reason", "ring_full"}}),
                count(s.kernel->rx_ring_full));
    out.counter("lrp_drops_total", with(l, {{"reason", "fill_empty"}}),
                count(s.kernel->rx_dropped));
  }
  if (s.xdp && with_xdp)
    out.counter("lrp_drops_total", with(l, {{"reason", "shed"}}), count((*s.xdp)[LRP_SLOT_SHED]));
  for (const NamedCount& c : s.invalid)
    out.counter("lrp_drops_total", with(l, {{"reason", "invalid"}, {"detail", c.name}}),
                count(c.value));
  out.gauge("lrp_socket_rx_ring_frames", l, count(s.rx_ring_frames));
  out.counter("lrp_held_cap_reached_total", l, count(s.held_cap_reached));
  out.counter("lrp_partial_checksums_total", l, count(s.partial_checksum));
  if (s.xdp && with_xdp)
    for (size_t i = 0; i < LRP_SLOT_COUNTER_MAX; ++i)
      out.counter("lrp_xdp_packets_total", with(l, {{"outcome", kSlotOutcomes[i]}}),
                  count((*s.xdp)[i]));
  out.counter("lrp_datagrams_sent_total", l, count(s.sent));
  out.counter("lrp_bytes_sent_total", l, count(s.sent_bytes));
  out.counter("lrp_send_would_block_total", l, count(s.send_would_block));
  out.counter("lrp_tx_completed_total", l, count(s.completed));
  if (s.kernel) {
    out.counter("lrp_xsk_rx_invalid_descs_total", l, count(s.kernel->rx_invalid_descs));
    out.counter("lrp_xsk_tx_invalid_descs_total", l, count(s.kernel->tx_invalid_descs));
    out.counter("lrp_xsk_tx_ring_empty_descs_total", l, count(s.kernel->tx_ring_empty_descs));
  }
}

void add_app(FamilySet& out, const Labels& engine, const AppSnapshot& a) {
  const Labels l = with(engine, {{"app", a.name}});
  auto count = [](uint64_t v) { return static_cast<double>(v); };
  out.gauge("lrp_app_weight", l, a.weight);
  out.counter("lrp_protocol_cpu_seconds_total", l, seconds(a.charged_ns));
  out.counter("lrp_app_visits_total", l, count(a.visits));
  out.counter("lrp_app_frames_total", l, count(a.frames));
  out.counter("lrp_app_datagrams_queued_total", l, count(a.queued_total));
  out.gauge("lrp_app_receive_queue_datagrams", l, count(a.queued_now));
  out.counter("lrp_drops_total", with(l, {{"reason", "app_queue_full"}}),
              count(a.queue_full_drops));
  out.counter("lrp_app_skipped_full_total", l, count(a.skipped_full));
  out.gauge("lrp_app_shed", l, a.shed ? 1 : 0);
  out.counter("lrp_app_shed_changes_total", with(l, {{"direction", "raised"}}),
              count(a.shed_raised));
  out.counter("lrp_app_shed_changes_total", with(l, {{"direction", "lowered"}}),
              count(a.shed_lowered));
  out.histogram("lrp_batch_size", l, a.batch_size);
  out.histogram("lrp_receive_queue_depth", l, a.queue_depth);
}

void add_scheduler(FamilySet& out, const Labels& l, const SchedulerSnapshot& s) {
  auto count = [](uint64_t v) { return static_cast<double>(v); };
  out.gauge("lrp_engine_mode", l, s.polling ? 1 : 0);
  out.gauge("lrp_engine_configured_mode", with(l, {{"mode", s.mode}, {"threading", s.threading}}),
            1);
  out.counter("lrp_engine_mode_switches_total", with(l, {{"direction", "to_poll"}}),
              count(s.switches_to_poll));
  out.counter("lrp_engine_mode_switches_total", with(l, {{"direction", "to_interrupt"}}),
              count(s.switches_to_interrupt));
  out.counter("lrp_engine_poll_passes_total", l, count(s.passes));
  out.counter("lrp_engine_empty_passes_total", l, count(s.empty_passes));
  out.counter("lrp_engine_wakeups_total", l, count(s.wakeups));
  out.counter("lrp_engine_sleeps_total", l, count(s.sleeps));
  out.counter("lrp_engine_deferrals_total", l, count(s.deferrals));
  out.counter("lrp_engine_core_yields_total", l, count(s.yields));
  out.counter("lrp_engine_answer_spins_total", with(l, {{"outcome", "answered"}}),
              count(s.answer_spins - std::min(s.answer_spins, s.answer_misses)));
  out.counter("lrp_engine_answer_spins_total", with(l, {{"outcome", "missed"}}),
              count(s.answer_misses));
  out.counter("lrp_engine_idle_poll_cpu_seconds_total", l, seconds(s.idle_poll_ns));
  if (s.engine_cpu_ns) out.counter("lrp_engine_cpu_seconds_total", l, seconds(*s.engine_cpu_ns));
}

void add_engine(FamilySet& out, const EngineSnapshot& e, XdpSlotsSeen& xdp_slots) {
  const Labels l = {{"interface", e.interface}, {"queue", std::to_string(e.queue)}};
  const std::pair<const char*, uint64_t> places[] = {{"free", e.frames.free},
                                                     {"fill", e.frames.fill},
                                                     {"rx", e.frames.rx},
                                                     {"held", e.frames.held},
                                                     {"tx", e.frames.tx}};
  for (const auto& [place, n] : places)
    out.gauge("lrp_frames", with(l, {{"place", place}}), static_cast<double>(n));
  out.counter("lrp_frame_violations_total", l, static_cast<double>(e.frames.violations));
  if (e.fill_ring_empty_descs)
    out.counter("lrp_fill_ring_empty_descs_total", l,
                static_cast<double>(*e.fill_ring_empty_descs));
  out.counter("lrp_exporter_read_errors_total", l, static_cast<double>(e.read_errors));
  if (e.scheduler) {
    add_scheduler(out, l, *e.scheduler);
    for (const AppSnapshot& a : e.scheduler->apps) add_app(out, l, a);
  }
  for (const SocketSnapshot& s : e.sockets)
    add_socket(out, l, s, xdp_slots.insert({e.interface, s.slot}).second);
}

void add_interface(FamilySet& out, const std::string& interface,
                   const std::array<uint64_t, LRP_G_COUNTER_MAX>& g) {
  const Labels l = {{"interface", interface}};
  out.counter("lrp_xdp_seen_total", l, static_cast<double>(g[LRP_G_SEEN]));
  out.counter("lrp_xdp_redirected_total", l, static_cast<double>(g[LRP_G_REDIRECTED]));
  out.counter("lrp_xdp_shed_total", l, static_cast<double>(g[LRP_G_SHED]));
  for (const PassReason& r : kPassReasons)
    out.counter("lrp_xdp_pass_total", with(l, {{"reason", r.name}}),
                static_cast<double>(g[r.counter]));
}

}  // namespace

ClientMetric::Histogram to_histogram(const HistogramSnapshot& h) {
  ClientMetric::Histogram out;
  uint64_t cumulative = 0;
  for (size_t i = 0; i < h.counts.size(); ++i) {
    cumulative += h.counts[i];
    out.bucket.push_back({cumulative, h.upper_bounds[i]});
  }
  if (out.bucket.empty() || !std::isinf(out.bucket.back().upper_bound))
    out.bucket.push_back({cumulative, std::numeric_limits<double>::infinity()});
  out.sample_count = cumulative;
  out.sample_sum = h.sum;
  return out;
}

std::vector<MetricFamily> to_families(std::span<const EngineSnapshot> engines) {
  FamilySet out;
  XdpSlotsSeen xdp_slots;
  for (const EngineSnapshot& e : engines) add_engine(out, e, xdp_slots);
  // The XDP program and its global counters belong to the interface: engines
  // on other queues of the same interface report the same numbers.
  std::set<std::string> seen;
  for (const EngineSnapshot& e : engines)
    if (e.xdp_global && seen.insert(e.interface).second)
      add_interface(out, e.interface, *e.xdp_global);
  return out.take();
}

}  // namespace lrp::exporters
