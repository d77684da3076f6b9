// The exporter over a live engine and scheduler on a veth bench: traffic goes
// in, /metrics is scraped over HTTP on the server namespace's loopback, and the
// numbers must be the ones the traffic made.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <thread>

#include "exporters/metrics_server.h"
#include "tests/exporters/exposition.h"
#include "tests/exporters/http_get.h"
#include "tests/exporters/live_bench.h"
#include "tests/support/privileges.h"
#include "tests/support/scheduled_socket.h"

namespace lrp::exporters {
namespace {

using test::Exposition;
using Labels = std::map<std::string, std::string>;

Exposition scrape(const MetricsServer& server) {
  const test::HttpResponse r = test::http_get("127.0.0.1", server.port(), "/metrics");
  EXPECT_EQ(r.status, 200) << r.error;
  std::string error;
  auto parsed = test::parse_exposition(r.body, &error);
  EXPECT_TRUE(parsed.has_value()) << error;
  return parsed.value_or(Exposition{});
}

double sum_or_nan(const Exposition& e, const std::string& name, const Labels& match = {}) {
  return e.sum(name, match).value_or(std::nan(""));
}

TEST(ExporterLive, ScrapeShowsDeliveriesDropsAndEngineState) {
  LRP_REQUIRE_PRIVILEGES();
  sched::SchedulerConfig config;
  config.mode = sched::Mode::Adaptive;
  config.threading = sched::Threading::Dedicated;
  config.shed.raise_after = 20'000'000;  // 20 ms full
  test::LiveBench b;
  ASSERT_EQ(test::open_live_bench(b, "exp", &config), "");
  sched::Scheduler& s = *b.scheduler;
  auto reader_app = test::add_udp_app(b, "reader", 7400, 1024);
  auto stuck_app = test::add_udp_app(b, "stuck", 7401, 32);
  ASSERT_TRUE(reader_app.ok()) << reader_app.error().message();
  ASSERT_TRUE(stuck_app.ok()) << stuck_app.error().message();
  ASSERT_TRUE(s.start().ok());
  auto server = MetricsServer::start("127.0.0.1:0", *b.engine, &s);
  ASSERT_TRUE(server.ok()) << server.error().message();

  constexpr uint64_t kToReader = 2000, kToStuck = 3000;
  constexpr size_t kPayload = 32;
  {
    test::AppReader reader(s, reader_app.value());
    test::UdpPeer client(b.veth->client_ns, AF_INET);
    ASSERT_TRUE(client.ok());
    // 10k datagrams/s each: well within what a reader takes, far beyond a
    // 32-datagram queue nobody reads.
    std::thread to_stuck([&] { test::send_paced(client, 7401, 10000, 0.3, kPayload); });
    const auto sent = test::send_paced(client, 7400, 10000, 0.2, kPayload);
    to_stuck.join();
    ASSERT_EQ(sent.sent, kToReader);
    EXPECT_TRUE(reader.wait_for(kToReader, 3000)) << "read " << reader.received();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // let the rings settle
  }
  const Exposition e = scrape(*server.value());
  s.stop();

  const Labels reader = {{"app", "reader"}};
  const Labels stuck = {{"app", "stuck"}};
  EXPECT_EQ(sum_or_nan(e, "lrp_datagrams_delivered_total", reader), kToReader);
  EXPECT_EQ(sum_or_nan(e, "lrp_bytes_delivered_total", reader), kToReader * kPayload);
  EXPECT_EQ(sum_or_nan(e, "lrp_app_datagrams_queued_total", reader), kToReader);
  EXPECT_EQ(sum_or_nan(e, "lrp_datagrams_delivered_total", {{"socket", "7400/ipv4"}}), kToReader);
  EXPECT_EQ(sum_or_nan(e, "lrp_xdp_packets_total", {{"app", "reader"}, {"outcome", "redirected"}}),
            kToReader);
  EXPECT_EQ(sum_or_nan(e, "lrp_drops_total", reader), 0);
  EXPECT_GT(sum_or_nan(e, "lrp_protocol_cpu_seconds_total", reader), 0);
  EXPECT_EQ(sum_or_nan(e, "lrp_batch_size_sum", reader), kToReader);
  EXPECT_GT(sum_or_nan(e, "lrp_batch_size_count", reader), 0);
  EXPECT_EQ(sum_or_nan(e, "lrp_batch_size_bucket", {{"app", "reader"}, {"le", "+Inf"}}),
            sum_or_nan(e, "lrp_batch_size_count", reader));
  EXPECT_GT(sum_or_nan(e, "lrp_receive_queue_depth_count", reader), 0);

  // The application that never reads: its traffic is dropped early, and
  // every datagram sent to it is accounted for somewhere.
  const double ring_full =
      sum_or_nan(e, "lrp_drops_total", {{"app", "stuck"}, {"reason", "ring_full"}});
  const double shed = sum_or_nan(e, "lrp_drops_total", {{"app", "stuck"}, {"reason", "shed"}});
  const double fill_empty =
      sum_or_nan(e, "lrp_drops_total", {{"app", "stuck"}, {"reason", "fill_empty"}});
  const double delivered = sum_or_nan(e, "lrp_datagrams_delivered_total", stuck);
  const double waiting = sum_or_nan(e, "lrp_socket_rx_ring_frames", stuck);
  EXPECT_GT(ring_full + shed, 0);
  EXPECT_LE(delivered, 32);
  EXPECT_EQ(sum_or_nan(e, "lrp_drops_total", {{"app", "stuck"}, {"reason", "app_queue_full"}}), 0);
  EXPECT_EQ(sum_or_nan(e, "lrp_drops_total", {{"reason", "invalid"}}), 0);
  EXPECT_EQ(delivered + ring_full + shed + fill_empty + waiting, kToStuck)
      << "delivered " << delivered << " ring_full " << ring_full << " shed " << shed
      << " fill_empty " << fill_empty << " waiting " << waiting;
  EXPECT_EQ(sum_or_nan(e, "lrp_xdp_packets_total", {{"app", "stuck"}, {"outcome", "shed"}}), shed);

  // Engine state.
  EXPECT_EQ(sum_or_nan(e, "lrp_frames"), static_cast<double>(b.engine->frames().frame_count()));
  EXPECT_EQ(sum_or_nan(e, "lrp_frame_violations_total"), 0);
  EXPECT_EQ(sum_or_nan(e, "lrp_engine_configured_mode",
                       {{"mode", "adaptive"}, {"threading", "dedicated"}}),
            1);
  EXPECT_EQ(e.find("lrp_engine_mode").size(), 1u);
  EXPECT_GT(sum_or_nan(e, "lrp_engine_poll_passes_total"), 0);
  EXPECT_GT(sum_or_nan(e, "lrp_engine_cpu_seconds_total"), 0);
  EXPECT_GE(sum_or_nan(e, "lrp_xdp_redirected_total"), kToReader);
  EXPECT_EQ(sum_or_nan(e, "lrp_exporter_read_errors_total"), 0);
  const auto labels = e.find("lrp_protocol_cpu_seconds_total", reader);
  ASSERT_EQ(labels.size(), 1u);
  EXPECT_EQ(labels[0]->labels.at("interface"), b.veth->server_if);
  EXPECT_EQ(labels[0]->labels.at("queue"), "0");
}

TEST(ExporterLive, EngineWithoutSchedulerExportsItsSockets) {
  LRP_REQUIRE_PRIVILEGES();
  test::LiveBench b;
  ASSERT_EQ(test::open_live_bench(b, "exe"), "");
  BindSpec bind;
  bind.local = IpAddress::any_v4();
  bind.port = 7500;
  auto slot = b.iface->open_socket(bind, {});
  ASSERT_TRUE(slot.ok()) << slot.error().message();
  auto server = MetricsServer::start("127.0.0.1:0", *b.engine);
  ASSERT_TRUE(server.ok()) << server.error().message();

  test::UdpPeer client(b.veth->client_ns, AF_INET);
  ASSERT_EQ(client.send_many(test::VethBench::kServer4, 7500, 100, 16), 100u);
  size_t delivered = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (delivered < 100 && std::chrono::steady_clock::now() < deadline) {
    Datagram d[32];
    const ProcessResult r = b.engine->process(slot.value(), d);
    for (size_t i = 0; i < r.delivered; ++i) b.engine->release(d[i]);
    delivered += r.delivered;
    b.engine->refill();
    if (r.taken == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_EQ(delivered, 100u);

  const Exposition e = scrape(*server.value());
  auto samples = e.find("lrp_datagrams_delivered_total");
  ASSERT_EQ(samples.size(), 1u);
  EXPECT_EQ(samples[0]->value, 100);
  EXPECT_EQ(samples[0]->labels.at("socket"), "7500/ipv4");
  EXPECT_EQ(samples[0]->labels.count("app"), 0u);
  EXPECT_TRUE(e.find("lrp_engine_mode").empty());
  EXPECT_TRUE(e.find("lrp_protocol_cpu_seconds_total").empty());
  EXPECT_GE(sum_or_nan(e, "lrp_xdp_redirected_total"), 100);
  EXPECT_EQ(sum_or_nan(e, "lrp_frames"), static_cast<double>(b.engine->frames().frame_count()));
}

// Applications and sockets come and go while Prometheus scrapes: every
// scrape succeeds and parses, and nothing is read after it was freed (the
// sanitizer build would report it).
TEST(ExporterLive, ScrapesWhileApplicationsComeAndGo) {
  LRP_REQUIRE_PRIVILEGES();
  sched::SchedulerConfig config;
  config.threading = sched::Threading::Dedicated;
  test::LiveBench b;
  ASSERT_EQ(test::open_live_bench(b, "chu", &config), "");
  auto server = MetricsServer::start("127.0.0.1:0", *b.engine, b.scheduler.get());
  ASSERT_TRUE(server.ok()) << server.error().message();
  ASSERT_TRUE(b.scheduler->start().ok());
  std::atomic<bool> churning{true};
  std::atomic<int> cycles{0};
  std::thread churn([&] {
    for (int i = 0; churning && i < 2000; ++i) {
      auto app = test::add_udp_app(b, "churn" + std::to_string(i % 3),
                                   static_cast<uint16_t>(7600 + i % 3), 64);
      if (!app.ok()) continue;
      (void)test::remove_scheduled_app(*b.iface, *b.scheduler, app.value());
      ++cycles;
    }
  });
  int scrapes = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(1500);
  while (std::chrono::steady_clock::now() < deadline) {
    const test::HttpResponse r = test::http_get("127.0.0.1", server.value()->port(), "/metrics");
    ASSERT_EQ(r.status, 200) << r.error;
    std::string error;
    ASSERT_TRUE(test::parse_exposition(r.body, &error).has_value()) << error;
    ++scrapes;
  }
  churning = false;
  churn.join();
  b.scheduler->stop();
  EXPECT_GT(scrapes, 5);
  EXPECT_GT(cycles.load(), 5);
  std::string why;
  EXPECT_TRUE(b.engine->frames_accounted(&why)) << why;
}

}  // namespace
}  // namespace lrp::exporters
