// lrpctl: what lrpd is doing, from lrpd itself (onload_stackdump is the
// model): engines, applications, sockets, as a table or as JSON.
#include <time.h>

#include <cstdio>
#include <string>

#include "service/client/client.h"
#include "service/ctl/format.h"

namespace {

struct CtlOptions {
  std::string socket_path;
  std::string what = "status";
  bool json = false;
  bool help = false;
};

const char* kUsage =
    "usage: lrpctl [--socket PATH] status|apps|sockets [--json]\n"
    "  status   lrpd and each engine: queue, core, mode, counters\n"
    "  apps     each application: pid, uid, weight, delivered, drops by reason, CPU charged\n"
    "  sockets  each socket lrpd serves and its counters\n";

lrp::Result<CtlOptions> parse_ctl_options(int argc, char** argv) {
  CtlOptions o;
  bool got_what = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--socket") {
      if (i + 1 >= argc) return lrp::make_error(EINVAL, "--socket needs a path");
      o.socket_path = argv[++i];
    } else if (arg == "--json") {
      o.json = true;
    } else if (arg == "--help" || arg == "-h") {
      o.help = true;
    } else if (!got_what && (arg == "status" || arg == "apps" || arg == "sockets")) {
      o.what = arg;
      got_what = true;
    } else {
      return lrp::make_error(EINVAL, "unknown argument '" + arg + "'");
    }
  }
  return o;
}

template <class T>
std::vector<T> records(const std::vector<lrp::service::Message>& messages,
                       lrp::service::MsgType type) {
  std::vector<T> out;
  for (const auto& m : messages) {
    T t{};
    if (m.type == type && m.read(&t)) out.push_back(t);
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace lrp::service;
  auto parsed = parse_ctl_options(argc, argv);
  if (!parsed) {
    std::fprintf(stderr, "lrpctl: %s\n%s", parsed.error().message().c_str(), kUsage);
    return 2;
  }
  const CtlOptions& o = parsed.value();
  if (o.help) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  ClientConfig cc;
  cc.socket_path = o.socket_path;
  cc.name = "lrpctl";
  cc.reconnect = false;
  auto client = ServiceClient::connect(cc);
  if (!client) {
    std::fprintf(stderr, "lrpctl: %s\n", client.error().message().c_str());
    return 1;
  }
  const MsgType query = o.what == "apps"      ? MsgType::QueryApps
                        : o.what == "sockets" ? MsgType::QuerySockets
                                              : MsgType::QueryStatus;
  auto answer = client.value()->query(query);
  if (!answer) {
    std::fprintf(stderr, "lrpctl: %s\n", answer.error().message().c_str());
    return 1;
  }
  std::string text;
  if (query == MsgType::QueryStatus) {
    auto daemon = records<DaemonStatus>(answer.value(), MsgType::DaemonStatusRecord);
    if (daemon.empty()) {
      std::fprintf(stderr, "lrpctl: lrpd sent no status\n");
      return 1;
    }
    timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    text =
        format_status(daemon[0], records<EngineStatus>(answer.value(), MsgType::EngineStatusRecord),
                      o.json, uint64_t(ts.tv_sec) * 1'000'000'000ull + uint64_t(ts.tv_nsec));
  } else if (query == MsgType::QueryApps) {
    text = format_apps(records<AppStatus>(answer.value(), MsgType::AppStatusRecord), o.json);
  } else {
    text =
        format_sockets(records<SocketStatus>(answer.value(), MsgType::SocketStatusRecord), o.json);
  }
  std::fputs(text.c_str(), stdout);
  return 0;
}
