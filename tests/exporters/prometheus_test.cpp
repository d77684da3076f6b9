// End to end with the real tools: Prometheus (Debian's package) scrapes the
// exporter of an engine receiving paced traffic over veth, its rates match
// what was sent, an application that does not read shows drops under the
// right reasons, and headless Chromium renders the dashboard with data in
// its panels. Prometheus, the exporter and Chromium all live in the bench's
// server namespace and talk over its loopback.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <thread>

#include "exporters/metrics_server.h"
#include "tests/exporters/child_process.h"
#include "tests/exporters/live_bench.h"
#include "tests/exporters/prometheus_server.h"
#include "tests/support/privileges.h"

namespace lrp::exporters {
namespace {

using Clock = std::chrono::steady_clock;

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::vector<std::string> chromium_args(const std::string& netns, const std::string& profile) {
  return {"ip",
          "netns",
          "exec",
          netns,
          "chromium",
          "--headless",
          "--no-sandbox",
          "--disable-gpu",
          "--disable-background-networking",
          "--disable-component-update",
          "--disable-sync",
          "--no-first-run",
          "--hide-scrollbars",
          "--user-data-dir=" + profile,
          "--virtual-time-budget=10000",
          "--window-size=1400,1330"};
}

// data-* attributes of each panel section in Chromium's dump of the page.
std::map<std::string, std::map<std::string, std::string>> panels_in(const std::string& dom) {
  std::map<std::string, std::map<std::string, std::string>> out;
  const std::string open = "<section class=\"panel\"";
  for (size_t at = dom.find(open); at != std::string::npos; at = dom.find(open, at + 1)) {
    const size_t end = dom.find('>', at);
    if (end == std::string::npos) break;
    const std::string tag = dom.substr(at, end - at);
    std::map<std::string, std::string> attrs;
    for (size_t a = tag.find(" data-"); a != std::string::npos; a = tag.find(" data-", a + 1)) {
      const size_t eq = tag.find("=\"", a);
      const size_t close = eq == std::string::npos ? eq : tag.find('"', eq + 2);
      if (close == std::string::npos) break;
      attrs[tag.substr(a + 6, eq - a - 6)] = tag.substr(eq + 2, close - eq - 2);
    }
    out[attrs["title"]] = attrs;
  }
  return out;
}

TEST(PrometheusEndToEnd, RatesDropsAndDashboardFromLiveTraffic) {
  LRP_REQUIRE_PRIVILEGES();
  sched::SchedulerConfig config;
  config.threading = sched::Threading::Dedicated;
  config.shed.raise_after = 20'000'000;
  test::LiveBench b;
  ASSERT_EQ(test::open_live_bench(b, "prm", &config), "");
  sched::Scheduler& s = *b.scheduler;
  auto paced = test::add_udp_app(b, "paced", 7600, 1024);
  auto stuck = test::add_udp_app(b, "stuck", 7601, 32);
  ASSERT_TRUE(paced.ok() && stuck.ok());
  ASSERT_TRUE(s.start().ok());
  auto metrics = MetricsServer::start("127.0.0.1:0", *b.engine, &s);
  ASSERT_TRUE(metrics.ok()) << metrics.error().message();

  test::PrometheusServer prometheus(b.veth->server_ns,
                                    "127.0.0.1:" + std::to_string(metrics.value()->port()));
  std::string why;
  ASSERT_TRUE(prometheus.wait_ready(20000, &why)) << why;
  // Prometheus hands new targets to its scrapers in rounds of a few seconds:
  // start the traffic once the first scrape is in.
  ASSERT_TRUE(prometheus.wait_for_value("up{job=\"lrp\"}", 1, 20000, &why)) << why;

  // Paced traffic: 2000/s to the reader, 1000/s to the application that never
  // reads, for 8 s.
  constexpr uint32_t kRate = 2000;
  constexpr double kSeconds = 8;
  test::AppReader reader(s, paced.value());
  test::UdpPeer client(b.veth->client_ns, AF_INET);
  ASSERT_TRUE(client.ok());
  const double traffic_start = unix_now();
  test::PacedResult to_stuck;
  std::thread stuck_sender(
      [&] { to_stuck = test::send_paced(client, 7601, kRate / 2, kSeconds, 32); });
  const test::PacedResult sent = test::send_paced(client, 7600, kRate, kSeconds, 32);
  stuck_sender.join();
  ASSERT_TRUE(reader.wait_for(sent.sent, 3000)) << "read " << reader.received();
  // Two more scrapes after the last datagram.
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));

  // At least two scrapes, all successful.
  const auto scrapes = prometheus.value("count_over_time(up{job=\"lrp\"}[1m])", 0, &why);
  ASSERT_TRUE(scrapes.has_value()) << why << prometheus.log();
  EXPECT_GE(*scrapes, 2);
  EXPECT_EQ(prometheus.value("min_over_time(up{job=\"lrp\"}[1m])"), 1);

  // The delivered rate over a window inside the traffic matches the sent rate.
  const double mid = traffic_start + kSeconds - 1;
  const auto rate =
      prometheus.value("sum(rate(lrp_datagrams_delivered_total{app=\"paced\"}[5s]))", mid, &why);
  ASSERT_TRUE(rate.has_value()) << why;
  EXPECT_NEAR(*rate, sent.rate(), 0.05 * sent.rate())
      << "Prometheus " << *rate << "/s, sent " << sent.rate() << "/s";
  EXPECT_EQ(prometheus.value("sum(lrp_datagrams_delivered_total{app=\"paced\"})"),
            static_cast<double>(sent.sent));
  EXPECT_EQ(prometheus.value("sum(lrp_drops_total{app=\"paced\"})"), 0);

  // The application that does not read: early drops, under their reasons.
  const auto early =
      prometheus.value("sum(lrp_drops_total{app=\"stuck\",reason=~\"ring_full|shed\"})", 0, &why);
  ASSERT_TRUE(early.has_value()) << why;
  EXPECT_GT(*early, 0.5 * static_cast<double>(to_stuck.sent));
  EXPECT_EQ(prometheus.value("sum(lrp_drops_total{app=\"stuck\",reason=\"app_queue_full\"})"), 0);
  const auto drop_rate = prometheus.value(
      "sum(rate(lrp_drops_total{app=\"stuck\",reason=~\"ring_full|shed\"}[5s]))", mid);
  ASSERT_TRUE(drop_rate.has_value());
  EXPECT_NEAR(*drop_rate, to_stuck.rate(), 0.05 * to_stuck.rate());

  // The dashboard, served by Prometheus, in a real browser.
  const std::string page = prometheus.url() + "/consoles/lrp.html?range=20&window=3s&refresh=3000";
  char profile[] = "/tmp/lrp-chromium-XXXXXX";
  ASSERT_NE(mkdtemp(profile), nullptr);
  auto args = chromium_args(b.veth->server_ns, profile);
  args.push_back("--dump-dom");
  args.push_back(page);
  const std::string dom_path = std::string(profile) + ".dom";
  int status = -1;
  {
    test::ChildProcess chromium(args, dom_path);
    ASSERT_TRUE(chromium.wait(45000, &status)) << "chromium did not finish";
  }
  const std::string dom = test::read_text_file(dom_path);
  EXPECT_EQ(status, 0) << dom;
  EXPECT_NE(dom.find("data-state=\"ready\""), std::string::npos) << dom;
  const auto panels = panels_in(dom);
  EXPECT_GE(panels.size(), 4u) << dom;
  for (const auto& [title, attrs] : panels) {
    SCOPED_TRACE(title);
    EXPECT_GT(std::atof(attrs.at("points").c_str()), 0) << "panel without data";
  }
  for (const char* title : {"Delivered datagrams per application", "Drops by reason",
                            "Protocol CPU charged per application"}) {
    ASSERT_TRUE(panels.count(title)) << title << " missing";
    EXPECT_GT(std::atof(panels.at(title).at("max").c_str()), 0) << title << " shows only zeros";
  }
  ASSERT_TRUE(panels.count("Engine mode (1 = polling, 0 = interrupt)"));

  // A picture of the same page, when asked for (docs/dashboard.png comes from here).
  if (const char* shot = std::getenv("LRP_DASHBOARD_SCREENSHOT")) {
    auto shot_args = chromium_args(b.veth->server_ns, profile);
    shot_args.push_back(std::string("--screenshot=") + shot);
    shot_args.push_back(page);
    test::ChildProcess chromium(shot_args, std::string(profile) + ".shot.log");
    EXPECT_TRUE(chromium.wait(45000, &status) && status == 0) << chromium.log();
  }
  std::error_code ec;
  std::filesystem::remove_all(profile, ec);
  std::filesystem::remove(dom_path, ec);
  std::filesystem::remove(std::string(profile) + ".shot.log", ec);
  s.stop();
}

}  // namespace
}  // namespace lrp::exporters
