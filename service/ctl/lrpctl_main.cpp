// lrpctl: what lrpd is doing, from lrpd itself (onload_stackdump is the
// model): engines, applications, sockets, as a table or as JSON.
#include <time.h>

#include <cstdio>
#include <string>

#include "cli/command_line.h"
#include "service/client/client.h"
#include "service/ctl/format.h"

namespace {

struct CtlOptions {
  std::string socket_path;
  std::string what = "status";
  bool json = false;
};

lrp::cli::CommandLine ctl_command_line(CtlOptions* o) {
  lrp::cli::CommandLine cl("lrpctl",
                           "What lrpd is doing, from lrpd itself, as a table or as JSON.");
  cl.positional("status|apps|sockets", "what to show (default status)",
                lrp::cli::one_of(&o->what, {"status", "apps", "sockets"}));
  cl.option("--socket", "PATH", "lrpd's control socket", lrp::cli::text(&o->socket_path));
  cl.flag("--json", "JSON instead of a table", &o->json);
  cl.note("  status   lrpd and each engine: queue, core, mode, counters");
  cl.note("  apps     each application: pid, uid, weight, delivered, drops by reason, CPU charged");
  cl.note("  sockets  each socket lrpd serves and its counters");
  return cl;
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
  CtlOptions o;
  if (auto exit = ctl_command_line(&o).parse_or_exit(argc, argv)) return *exit;
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
