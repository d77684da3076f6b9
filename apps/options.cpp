#include "apps/options.h"

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <sstream>

namespace lrp {

Result<std::vector<uint16_t>> parse_port_list(const std::string& text) {
  std::vector<uint16_t> ports;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    char* end = nullptr;
    long port = std::strtol(item.c_str(), &end, 10);
    if (item.empty() || *end != '\0' || port < 1 || port > 65535)
      return make_error(EINVAL, "'" + item + "' is not a port number (1-65535)");
    ports.push_back(static_cast<uint16_t>(port));
  }
  if (ports.empty()) return make_error(EINVAL, "no port given");
  return ports;
}

cli::CommandLine echo_command_line(bool lrp, EchoOptions* o) {
  cli::CommandLine cl(
      lrp ? "lrp-echo" : "kernel-echo",
      lrp ? "A UDP echo server on lrp's native API: replies to every datagram with its payload."
          : "The same UDP echo server on kernel sockets, the baseline lrp is compared with.");
  if (lrp)
    cl.option("--iface", "IF", "the interface lrp attaches to (not with --lrpd)",
              cli::text(&o->iface));
  cl.option("--port", "P[,P...]", "UDP ports to serve, on IPv4 and IPv6",
            [o](const std::string& text) -> Status {
              auto ports = parse_port_list(text);
              if (!ports) return ports.error();
              o->ports = ports.value();
              return {};
            })
      .required();
  cl.option("--work-ns", "N", "spin this long per request (application work)",
            cli::integer(&o->work_ns, 0, INT64_MAX));
  if (lrp) {
    cl.option("--mode", "adaptive|interrupt|poll|eager", "the engine mode (default adaptive)",
              cli::one_of(&o->mode, {"adaptive", "interrupt", "poll", "eager"}));
    cl.option("--threading", "rtc|dedicated",
              "run to completion (default) or a dedicated engine thread",
              cli::one_of(&o->threading, {"rtc", "dedicated"}));
    cl.option("--metrics", "HOST:PORT", "serve Prometheus metrics there",
              [o](const std::string& text) -> Status {
                if (text.find(':') == std::string::npos)
                  return make_error(EINVAL, "'" + text + "' is not HOST:PORT");
                o->metrics = text;
                return {};
              });
    cl.flag("--generic", "attach XDP in generic (skb) mode", &o->generic_xdp);
    cl.flag("--busy-poll", "let the kernel busy-poll the device from the polling loop",
            &o->busy_poll);
  }
  cl.option("--cpu", "N", "pin the server (and lrp's engine thread) to this CPU",
            cli::integer(&o->cpu, 0, CPU_SETSIZE - 1));
  cl.option("--duration", "S", "stop after S seconds (default: at SIGINT or SIGTERM)",
            cli::real(&o->duration_s, 0, 1e7));
  cl.flag("--sink", "receive and discard, reply to nothing", &o->sink);
  cl.flag("--quiet", "no start-up messages", &o->quiet);
  cl.option("--reply", "echo|sockperf",
            "echo everything (default), or answer sockperf clients as sockperf's server does",
            [o](const std::string& text) -> Status {
              if (text == "echo")
                o->reply = ReplyRule::Echo;
              else if (text == "sockperf")
                o->reply = ReplyRule::Sockperf;
              else
                return make_error(EINVAL, "'" + text + "' is not echo or sockperf");
              return {};
            });
  cl.flag("--app-per-port", "one application (and thread) per port", &o->app_per_port);
  cl.option("--forward", "ADDR:PORT",
            "relay: send what the first port receives from the second port to ADDR:PORT",
            [o](const std::string& text) -> Status {
              if (auto e = parse_endpoint(text); !e) return e.error();
              o->forward = text;
              return {};
            });
  cl.option("--port-work", "P:N[,P:N...]", "spin N ns per request on port P instead of --work-ns",
            [o](const std::string& text) -> Status {
              std::stringstream in(text);
              std::string item;
              while (std::getline(in, item, ',')) {
                const size_t colon = item.find(':');
                if (colon == std::string::npos)
                  return make_error(EINVAL, "'" + item + "' is not P:N");
                auto port = parse_port_list(item.substr(0, colon));
                auto ns = cli::parse_integer(item.substr(colon + 1), 0, INT64_MAX);
                if (!port) return port.error();
                if (!ns) return ns.error();
                o->port_work.emplace_back(port.value()[0], ns.value());
              }
              return {};
            });
  cl.option("--unread-port", "P[,P...]", "bind these ports but never read them (--app-per-port)",
            [o](const std::string& text) -> Status {
              auto ports = parse_port_list(text);
              if (!ports) return ports.error();
              o->unread_ports = ports.value();
              return {};
            });
  if (lrp) {
    cl.option("--engine-priority", "N",
              "run the dedicated engine thread at SCHED_FIFO priority N (default 0: normal)",
              cli::integer(&o->engine_priority, 0, 99));
    cl.option("--app-queue", "N", "bound of each application's receive queue (default 1024)",
              cli::integer(&o->app_queue, 1, 1 << 20));
    cl.option("--held-cap", "N", "frames each socket may hold at once (default 512)",
              cli::integer(&o->held_cap, 1, 1 << 20));
    cl.option("--lrpd", "SOCKET",
              "attach to lrpd at this control socket instead of running lrp in this process; "
              "each port is an application of its own",
              cli::text(&o->lrpd));
    cl.option("--weight", "N", "with --lrpd: the applications' scheduling weight (default 1)",
              cli::integer(&o->weight, 1, 1 << 16));
  }
  cl.note("SIGUSR1 prints the counters so far.");
  return cl;
}

Status check_echo_options(const EchoOptions& o, bool lrp) {
  if (lrp && o.iface.empty() && o.lrpd.empty())
    return make_error(EINVAL, "--iface IF (lrp in this process) or --lrpd SOCKET is required");
  if (!o.lrpd.empty() && !o.forward.empty())
    return make_error(EINVAL, "--lrpd does not relay (--forward)");
  if (!o.forward.empty() && o.ports.size() != 2)
    return make_error(EINVAL,
                      "--forward needs exactly two ports: receive on the first, send "
                      "from the second");
  if (!o.forward.empty() && o.app_per_port)
    return make_error(EINVAL, "--forward and --app-per-port do not combine");
  for (uint16_t port : o.unread_ports) {
    if (!o.app_per_port) return make_error(EINVAL, "--unread-port needs --app-per-port");
    if (std::find(o.ports.begin(), o.ports.end(), port) == o.ports.end())
      return make_error(EINVAL, "--unread-port " + std::to_string(port) + " is not in --port");
  }
  return {};
}

int64_t work_for_port(const EchoOptions& o, uint16_t port) {
  for (auto [p, ns] : o.port_work)
    if (p == port) return ns;
  return o.work_ns;
}

bool is_unread(const EchoOptions& o, uint16_t port) {
  return std::find(o.unread_ports.begin(), o.unread_ports.end(), port) != o.unread_ports.end();
}

std::optional<int> parse_echo_options(int argc, char** argv, bool lrp, EchoOptions* out) {
  const cli::CommandLine cl = echo_command_line(lrp, out);
  if (auto exit = cl.parse_or_exit(argc, argv)) return exit;
  if (Status st = check_echo_options(*out, lrp); !st) return cl.fail(st.error().context);
  return std::nullopt;
}

Result<Endpoint> parse_endpoint(const std::string& text) {
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon + 1 == text.size())
    return make_error(EINVAL, "'" + text + "' is not ADDR:PORT");
  std::string host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  auto addr = IpAddress::parse(host);
  if (!addr) return make_error(EINVAL, "'" + text + "': '" + host + "' is not an address");
  auto port = parse_port_list(text.substr(colon + 1));
  if (!port || port.value().size() != 1) return make_error(EINVAL, "'" + text + "': bad port");
  return Endpoint{addr.value(), port.value()[0]};
}

Status pin_to_cpu(int cpu) {
  if (cpu < 0) return {};
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  int err = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
  if (err != 0) return make_error(err, "pin to CPU " + std::to_string(cpu));
  return {};
}

}  // namespace lrp
