// lrp-echo's and kernel-echo's options: the documented ones are accepted,
// the lrp-only ones only by lrp-echo, and the checks across options hold.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "apps/options.h"

namespace lrp {
namespace {

Result<EchoOptions> parse(bool lrp, std::vector<std::string> words) {
  std::vector<const char*> argv = {lrp ? "lrp-echo" : "kernel-echo"};
  for (const auto& w : words) argv.push_back(w.c_str());
  EchoOptions o;
  auto r = echo_command_line(lrp, &o).parse(static_cast<int>(argv.size()), argv.data());
  if (!r) return r.error();
  if (Status st = check_echo_options(o, lrp); !st) return st.error();
  return o;
}

TEST(EchoOptions, TheDocumentedCommandLine) {
  auto r = parse(true, {"--iface",   "veth0",          "--port",    "9000,9001",      "--mode",
                        "poll",      "--threading",    "dedicated", "--work-ns",      "1000",
                        "--metrics", "127.0.0.1:9464", "--generic", "--cpu",          "1",
                        "--quiet",   "--reply",        "sockperf",  "--app-per-port", "--duration",
                        "2",         "--busy-poll",    "--sink"});
  ASSERT_TRUE(r) << r.error().message();
  const EchoOptions& o = r.value();
  EXPECT_EQ(o.iface, "veth0");
  EXPECT_EQ(o.ports, (std::vector<uint16_t>{9000, 9001}));
  EXPECT_EQ(o.mode, "poll");
  EXPECT_EQ(o.threading, "dedicated");
  EXPECT_EQ(o.work_ns, 1000);
  EXPECT_EQ(o.metrics, "127.0.0.1:9464");
  EXPECT_TRUE(o.generic_xdp && o.quiet && o.app_per_port && o.busy_poll && o.sink);
  EXPECT_EQ(o.cpu, 1);
  EXPECT_EQ(o.duration_s, 2);
  EXPECT_EQ(o.reply, ReplyRule::Sockperf);
}

TEST(EchoOptions, KernelEchoHasNoInterfaceOrEngineOptions) {
  auto r = parse(false, {"--port", "9000", "--cpu", "1", "--work-ns", "10"});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r.value().ports, std::vector<uint16_t>{9000});
  for (const char* o : {"--iface", "--mode", "--threading", "--metrics"}) {
    auto bad = parse(false, {"--port", "9000", o, "x"});
    ASSERT_FALSE(bad) << o;
    EXPECT_EQ(bad.error().message(), std::string("unknown option '") + o + "'");
  }
}

TEST(EchoOptions, Refusals) {
  auto message = [](bool lrp, std::vector<std::string> words) {
    auto r = parse(lrp, std::move(words));
    return r ? std::string("(accepted)") : r.error().context;
  };
  EXPECT_EQ(message(true, {"--port", "9000"}),
            "--iface IF (lrp in this process) or --lrpd SOCKET is required");
  EXPECT_EQ(message(false, {}), "--port P[,P...] is required");
  EXPECT_EQ(message(false, {"--port", "9000,x"}), "--port: 'x' is not a port number (1-65535)");
  EXPECT_EQ(message(false, {"--port", "70000"}), "--port: '70000' is not a port number (1-65535)");
  EXPECT_EQ(message(true, {"--iface", "a", "--port", "1", "--mode", "fast"}),
            "--mode: 'fast' is not one of adaptive, interrupt, poll, eager");
  EXPECT_EQ(message(true, {"--iface", "a", "--port", "1", "--metrics", "9464"}),
            "--metrics: '9464' is not HOST:PORT");
  EXPECT_EQ(message(false, {"--port", "1", "--reply", "ping"}),
            "--reply: 'ping' is not echo or sockperf");
  EXPECT_EQ(message(false, {"--port", "1", "--work-ns", "-5"}),
            "--work-ns: '-5' is out of range (0..9223372036854775807)");
  EXPECT_EQ(message(false, {"--port", "1", "--forward", "198.18.0.2:7"}),
            "--forward needs exactly two ports: receive on the first, send from the second");
  EXPECT_EQ(message(false, {"--port", "1,2", "--forward", "nowhere"}),
            "--forward: 'nowhere' is not ADDR:PORT");
  EXPECT_EQ(message(false, {"--port", "1,2", "--forward", "198.18.0.2:7", "--app-per-port"}),
            "--forward and --app-per-port do not combine");
  EXPECT_EQ(message(false, {"--port", "1,2", "--unread-port", "2"}),
            "--unread-port needs --app-per-port");
  EXPECT_EQ(message(false, {"--port", "1,2", "--app-per-port", "--unread-port", "3"}),
            "--unread-port 3 is not in --port");
  EXPECT_EQ(message(false, {"--port", "1", "--port-work", "1"}), "--port-work: '1' is not P:N");
  EXPECT_EQ(message(true, {"--iface", "a", "--port", "1", "--engine-priority", "100"}),
            "--engine-priority: '100' is out of range (0..99)");
  EXPECT_EQ(message(true, {"--lrpd", "/run/x.sock", "--port", "1,2", "--forward", "198.18.0.2:7"}),
            "--lrpd does not relay (--forward)");
}

TEST(EchoOptions, ScenarioOptions) {
  auto r = parse(false, {"--port", "9000,9001", "--work-ns", "10", "--app-per-port", "--port-work",
                         "9000:5000", "--unread-port", "9001"});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(work_for_port(r.value(), 9000), 5000);
  EXPECT_EQ(work_for_port(r.value(), 9001), 10);
  EXPECT_FALSE(is_unread(r.value(), 9000));
  EXPECT_TRUE(is_unread(r.value(), 9001));
}

TEST(EchoOptions, LrpdModeNeedsNoInterface) {
  auto r = parse(true, {"--lrpd", "/run/lrp/lrpd.sock", "--port", "9000", "--weight", "4",
                        "--engine-priority", "50", "--app-queue", "64"});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r.value().lrpd, "/run/lrp/lrpd.sock");
  EXPECT_EQ(r.value().weight, 4u);
  EXPECT_EQ(r.value().engine_priority, 50);
  EXPECT_EQ(r.value().app_queue, 64u);
  EXPECT_FALSE(parse(false, {"--port", "9000", "--lrpd", "x"}));
}

}  // namespace
}  // namespace lrp
