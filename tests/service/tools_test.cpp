// lrpd's command line and lrpctl's output.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

#include "lrp/ip_address.h"
#include "service/ctl/format.h"
#include "service/daemon/lrpd_options.h"
#include "service/wire/channel.h"

namespace lrp::service {
namespace {

Result<LrpdOptions> parse(std::vector<std::string> args) {
  args.insert(args.begin(), "lrpd");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return parse_lrpd_options(static_cast<int>(argv.size()), argv.data());
}

TEST(LrpdOptions, ParsesEveryOption) {
  auto o = parse({"--iface", "eth1,eth2", "--socket", "/tmp/x.sock", "--cpus", "0,2-3", "--mode",
                  "poll", "--metrics", "127.0.0.1:9000"});
  ASSERT_TRUE(o.ok()) << o.error().message();
  EXPECT_EQ(o->interfaces, (std::vector<std::string>{"eth1", "eth2"}));
  EXPECT_EQ(o->socket_path, "/tmp/x.sock");
  EXPECT_EQ(o->cpus, (std::vector<int>{0, 2, 3}));
  EXPECT_EQ(o->mode, "poll");
  EXPECT_EQ(o->metrics, "127.0.0.1:9000");
}

TEST(LrpdOptions, RefusesWhatItCannotUse) {
  EXPECT_FALSE(parse({}).ok());  // no interface
  EXPECT_FALSE(parse({"--iface", "eth0", "--mode", "eager"}).ok());
  EXPECT_FALSE(parse({"--iface", "eth0", "--cpus", "3-1"}).ok());
  EXPECT_FALSE(parse({"--iface", "eth0", "--cpus", "x"}).ok());
  EXPECT_FALSE(parse({"--iface"}).ok());
  EXPECT_FALSE(parse({"--iface", "eth0", "--bogus"}).ok());
  EXPECT_TRUE(parse({"--help"}).ok());
}

TEST(LrpdOptions, TheSocketComesFromTheEnvironmentWhenNotGiven) {
  setenv(kSocketEnv, "/tmp/from-env.sock", 1);
  auto o = parse({"--iface", "eth0"});
  unsetenv(kSocketEnv);
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->socket_path, "/tmp/from-env.sock");
  auto d = parse({"--iface", "eth0"});
  EXPECT_EQ(d->socket_path, kDefaultSocketPath);
}

TEST(LrpctlFormat, JsonEscapesNamesAndKeepsEveryCounter) {
  AppStatus a{};
  a.app_id = 3;
  a.pid = 42;
  a.uid = 65534;
  put_name(a.name, sizeof(a.name), "we\"ird\\name");
  a.delivered = 7;
  a.drops[kDropShed] = 5;
  a.tx_rejected = 2;
  const std::string json = format_apps({a}, true);
  EXPECT_NE(json.find("\"name\":\"we\\\"ird\\\\name\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"shed\":5"), std::string::npos);
  EXPECT_NE(json.find("\"tx_rejected\":2"), std::string::npos);
  EXPECT_NE(json.find("\"uid\":65534"), std::string::npos);
  const std::string table = format_apps({a}, false);
  EXPECT_NE(table.find("we\"ird\\name"), std::string::npos);
  EXPECT_EQ(std::count(table.begin(), table.end(), '\n'), 2);
}

TEST(LrpctlFormat, SocketsShowTheirFlow) {
  SocketStatus k{};
  k.socket_id = 1;
  k.app_id = 2;
  k.family = 4;
  const IpAddress local = IpAddress::parse("198.18.0.1").value();
  const IpAddress remote = IpAddress::parse("198.18.0.2").value();
  std::memcpy(k.local_addr, local.bytes().data(), 16);
  std::memcpy(k.remote_addr, remote.bytes().data(), 16);
  k.local_port = 53;
  k.remote_port = 5353;
  k.flags = kSocketConnected | kSocketReusePort;
  const std::string table = format_sockets({k}, false);
  EXPECT_NE(table.find("198.18.0.1:53"), std::string::npos);
  EXPECT_NE(table.find("198.18.0.2:5353"), std::string::npos);
  EXPECT_NE(table.find("connected,reuseport"), std::string::npos);
  const std::string json = format_sockets({k}, true);
  EXPECT_NE(json.find("\"remote\":\"198.18.0.2:5353\""), std::string::npos) << json;
}

TEST(LrpctlFormat, StatusListsEveryEngine) {
  DaemonStatus d{};
  d.pid = 9;
  d.epoch = 1'000'000'000ull;
  EngineStatus e0{}, e1{};
  std::strcpy(e0.ifname, "eth1");
  std::strcpy(e1.ifname, "eth1");
  e1.queue = 1;
  e1.cpu = 3;
  e1.polling = 1;
  const std::string table = format_status(d, {e0, e1}, false, 61'000'000'000ull);
  EXPECT_NE(table.find("up 60s"), std::string::npos) << table;
  EXPECT_NE(table.find("polling"), std::string::npos);
  EXPECT_EQ(std::count(table.begin(), table.end(), '\n'), 4);
  const std::string json = format_status(d, {e0, e1}, true, 61'000'000'000ull);
  EXPECT_NE(json.find("\"queue\":1,\"cpu\":3"), std::string::npos) << json;
}

}  // namespace
}  // namespace lrp::service
