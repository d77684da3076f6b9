// The HTTP side of the exporter on loopback, with a made-up collectable: the
// address forms it takes, what it serves, and how it fails.
#include "exporters/metrics_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>

#include "exporters/listen_address.h"
#include "tests/exporters/http_get.h"

namespace lrp::exporters {
namespace {

TEST(ListenAddress, AcceptsIpv4Ipv6AndLocalhost) {
  auto v4 = parse_listen_address("127.0.0.1:9100");
  ASSERT_TRUE(v4.ok());
  EXPECT_EQ(v4->host, "127.0.0.1");
  EXPECT_EQ(v4->port, 9100);
  EXPECT_EQ(v4->server_form(), "127.0.0.1:9100");
  auto v6 = parse_listen_address("[::1]:0");
  ASSERT_TRUE(v6.ok());
  EXPECT_TRUE(v6->v6);
  EXPECT_EQ(v6->server_form(), "[::1]:0");
  auto local = parse_listen_address("localhost:80");
  ASSERT_TRUE(local.ok());
  EXPECT_EQ(local->host, "127.0.0.1");
}

TEST(ListenAddress, RejectsWhatIsNotHostColonPort) {
  for (const char* bad :
       {"", "9100", ":9100", "127.0.0.1", "127.0.0.1:", "127.0.0.1:x", "127.0.0.1:65536",
        "example.org:80", "::1:9100", "[::1:9100", "[]:1", "127.0.0.1:80x"}) {
    auto r = parse_listen_address(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.error().code, EINVAL);
      EXPECT_NE(r.error().message().find("metrics: '"), std::string::npos);
    }
  }
}

class CountingCollectable : public prometheus::Collectable {
 public:
  std::vector<prometheus::MetricFamily> Collect() const override {
    prometheus::MetricFamily f;
    f.name = "lrp_test_scrapes_total";
    f.help = "Scrapes so far.";
    f.type = prometheus::MetricType::Counter;
    prometheus::ClientMetric m;
    m.counter.value = static_cast<double>(++scrapes_);
    f.metric.push_back(m);
    return {f};
  }
  mutable std::atomic<int> scrapes_{0};
};

TEST(MetricsServer, ServesTheCollectableAtEachScrape) {
  auto collectable = std::make_shared<CountingCollectable>();
  auto server = MetricsServer::serve("127.0.0.1:0", collectable);
  ASSERT_TRUE(server.ok()) << server.error().message();
  const uint16_t port = server.value()->port();
  ASSERT_NE(port, 0);
  EXPECT_EQ(server.value()->url(), "http://127.0.0.1:" + std::to_string(port) + "/metrics");
  auto first = test::http_get("127.0.0.1", port, "/metrics");
  auto second = test::http_get("127.0.0.1", port, "/metrics");
  ASSERT_EQ(first.status, 200) << first.error;
  EXPECT_NE(first.body.find("lrp_test_scrapes_total 1\n"), std::string::npos) << first.body;
  EXPECT_NE(second.body.find("lrp_test_scrapes_total 2\n"), std::string::npos) << second.body;
}

TEST(MetricsServer, Ipv6LoopbackServesOrSaysWhyNot) {
  auto server = MetricsServer::serve("[::1]:0", std::make_shared<CountingCollectable>());
  if (server.ok()) {
    EXPECT_EQ(server.value()->url().rfind("http://[::1]:", 0), 0u) << server.value()->url();
  } else {
    // The web server may be built without IPv6 (Debian's is): then it says so.
    EXPECT_EQ(server.error().code, EAFNOSUPPORT) << server.error().message();
    EXPECT_NE(server.error().message().find("no IPv6"), std::string::npos);
  }
}

TEST(MetricsServer, PortInUseIsAnErrorWithItsErrno) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0);
  ASSERT_EQ(listen(fd, 1), 0);
  socklen_t len = sizeof(sa);
  getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  const std::string taken = "127.0.0.1:" + std::to_string(ntohs(sa.sin_port));
  auto server = MetricsServer::serve(taken, std::make_shared<CountingCollectable>());
  close(fd);
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.error().code, EADDRINUSE);
  EXPECT_EQ(server.error().context, "metrics: cannot listen on " + taken);
}

TEST(MetricsServer, AddressNotOnThisHostIsAnError) {
  // 198.18.0.0/15 is never assigned outside the test benches' namespaces.
  auto server =
      MetricsServer::serve("198.18.255.254:9100", std::make_shared<CountingCollectable>());
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.error().code, EADDRNOTAVAIL);
  EXPECT_NE(server.error().message().find("metrics: cannot listen on 198.18.255.254:9100"),
            std::string::npos);
}

}  // namespace
}  // namespace lrp::exporters
