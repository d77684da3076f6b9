#include "service/ctl/format.h"

#include <cinttypes>
#include <cstdarg>
#include <cstdio>
#include <cstring>

#include "lrp/ip_address.h"
#include "service/wire/channel.h"

namespace lrp::service {

namespace {

const char* mode_name(uint8_t mode) {
  switch (static_cast<EngineModeCode>(mode)) {
    case EngineModeCode::Interrupt:
      return "interrupt";
    case EngineModeCode::Poll:
      return "poll";
    case EngineModeCode::Adaptive:
      return "adaptive";
    case EngineModeCode::Eager:
      return "eager";
  }
  return "?";
}

std::string endpoint(const uint8_t* addr, uint16_t port) {
  IpAddress::Bytes b;
  std::memcpy(b.data(), addr, 16);
  return Endpoint{IpAddress(b), port}.to_string();
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", c);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string flags_text(uint32_t f) {
  std::string s;
  if (f & kSocketConnected) s += "connected,";
  if (f & kSocketReusePort) s += "reuseport,";
  if (f & kSocketDualStack) s += "dualstack,";
  if (f & kSocketDevice) s += "device,";
  if (s.empty()) return "-";
  s.pop_back();
  return s;
}

std::string line(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
std::string line(const char* fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  return buf;
}

}  // namespace

std::string format_status(const DaemonStatus& d, const std::vector<EngineStatus>& engines,
                          bool json, uint64_t now) {
  const uint64_t up_s = now > d.epoch ? (now - d.epoch) / 1'000'000'000ull : 0;
  std::string out;
  if (json) {
    out = line("{\"pid\":%u,\"uptime_s\":%" PRIu64
               ",\"sessions\":%u,\"apps\":%u,\"sockets\":%u,\"max_payload\":%u,"
               "\"tx_rejected\":%" PRIu64 ",\"engines\":[",
               d.pid, up_s, d.sessions, d.apps, d.sockets, d.max_payload, d.tx_rejected);
    for (size_t i = 0; i < engines.size(); ++i) {
      const EngineStatus& e = engines[i];
      out += line(
          "%s{\"iface\":%s,\"ifindex\":%u,\"queue\":%u,\"cpu\":%d,\"mode\":\"%s\","
          "\"polling\":%s,\"passes\":%" PRIu64 ",\"empty_passes\":%" PRIu64 ",\"wakeups\":%" PRIu64
          ",\"sleeps\":%" PRIu64 ",\"switches_to_poll\":%" PRIu64
          ",\"switches_to_interrupt\":%" PRIu64 ",\"idle_poll_ns\":%" PRIu64
          ",\"engine_cpu_ns\":%" PRIu64 ",\"fill_ring\":%" PRIu64
          ",\"frames_total\":%u,\"frames_held\":%u,\"frames_accounted\":%s,"
          "\"frame_violations\":%" PRIu64 ",\"delivered\":%" PRIu64 "}",
          i ? "," : "", json_string(get_name(e.ifname, sizeof(e.ifname))).c_str(), e.ifindex,
          e.queue, e.cpu, mode_name(e.mode), e.polling ? "true" : "false", e.passes, e.empty_passes,
          e.wakeups, e.sleeps, e.switches_to_poll, e.switches_to_interrupt, e.idle_poll_ns,
          e.engine_cpu_ns, e.fill_ring, e.frames_total, e.frames_held,
          e.frames_accounted ? "true" : "false", e.frame_violations, e.delivered);
    }
    return out + "]}\n";
  }
  out = line("lrpd pid %u, up %" PRIu64
             "s: %u sessions, %u applications, %u sockets, "
             "max payload %u, transmit refused %" PRIu64 "\n",
             d.pid, up_s, d.sessions, d.apps, d.sockets, d.max_payload, d.tx_rejected);
  out += line("%-10s %5s %4s %-9s %-9s %10s %10s %9s %8s %8s %9s %9s %6s %11s\n", "iface", "queue",
              "cpu", "mode", "state", "passes", "empty", "wakeups", "to-poll", "to-irq", "idle-ms",
              "cpu-ms", "fill", "held/frames");
  for (const EngineStatus& e : engines)
    out += line("%-10s %5u %4d %-9s %-9s %10" PRIu64 " %10" PRIu64 " %9" PRIu64 " %8" PRIu64
                " %8" PRIu64 " %9" PRIu64 " %9" PRIu64 " %6" PRIu64 " %5u/%-5u%s\n",
                get_name(e.ifname, sizeof(e.ifname)).c_str(), e.queue, e.cpu, mode_name(e.mode),
                e.polling ? "polling" : "sleeping", e.passes, e.empty_passes, e.wakeups,
                e.switches_to_poll, e.switches_to_interrupt, e.idle_poll_ns / 1'000'000,
                e.engine_cpu_ns / 1'000'000, e.fill_ring, e.frames_held, e.frames_total,
                e.frames_accounted ? "" : " (frames in flight)");
  return out;
}

std::string format_apps(const std::vector<AppStatus>& apps, bool json) {
  std::string out;
  if (json) {
    out = "[";
    for (size_t i = 0; i < apps.size(); ++i) {
      const AppStatus& a = apps[i];
      out += line(
          "%s{\"app\":%u,\"name\":%s,\"pid\":%u,\"uid\":%u,\"sessions\":%u,\"weight\":%u,"
          "\"queue_bound\":%u,\"rx_entries\":%u,\"rx_depth\":%u,\"sockets\":%u,"
          "\"delivered\":%" PRIu64 ",\"drops\":{\"ring_full\":%" PRIu64 ",\"shed\":%" PRIu64
          ",\"kernel_ring_full\":%" PRIu64 ",\"invalid\":%" PRIu64 "},\"charged_ns\":%" PRIu64
          ",\"skipped_full\":%" PRIu64 ",\"tx_sent\":%" PRIu64 ",\"tx_rejected\":%" PRIu64
          ",\"tx_dropped\":%" PRIu64 "}",
          i ? "," : "", a.app_id, json_string(get_name(a.name, sizeof(a.name))).c_str(), a.pid,
          a.uid, a.sessions, a.weight, a.queue_bound, a.rx_entries, a.rx_depth, a.sockets,
          a.delivered, a.drops[kDropRingFull], a.drops[kDropShed], a.drops[kDropKernelRing],
          a.drops[kDropInvalid], a.charged_ns, a.skipped_full, a.tx_sent, a.tx_rejected,
          a.tx_dropped);
    }
    return out + "]\n";
  }
  out =
      line("%4s %-16s %7s %6s %4s %6s %11s %5s %10s %9s %7s %9s %7s %8s %9s %7s %7s\n", "app",
           "name", "pid", "uid", "sess", "weight", "depth/bound", "socks", "delivered", "ring-full",
           "shed", "kern-full", "invalid", "cpu-ms", "tx-sent", "tx-eperm", "tx-drop");
  for (const AppStatus& a : apps)
    out += line("%4u %-16s %7u %6u %4u %6u %5u/%-5u %5u %10" PRIu64 " %9" PRIu64 " %7" PRIu64
                " %9" PRIu64 " %7" PRIu64 " %8" PRIu64 " %9" PRIu64 " %7" PRIu64 " %7" PRIu64 "\n",
                a.app_id, get_name(a.name, sizeof(a.name)).c_str(), a.pid, a.uid, a.sessions,
                a.weight, a.rx_depth, a.queue_bound, a.sockets, a.delivered, a.drops[kDropRingFull],
                a.drops[kDropShed], a.drops[kDropKernelRing], a.drops[kDropInvalid],
                a.charged_ns / 1'000'000, a.tx_sent, a.tx_rejected, a.tx_dropped);
  return out;
}

std::string format_sockets(const std::vector<SocketStatus>& sockets, bool json) {
  std::string out;
  if (json) {
    out = "[";
    for (size_t i = 0; i < sockets.size(); ++i) {
      const SocketStatus& k = sockets[i];
      const bool connected = (k.flags & kSocketConnected) != 0;
      out += line(
          "%s{\"socket\":%u,\"app\":%u,\"local\":%s,\"remote\":%s,\"device\":%s,"
          "\"flags\":\"%s\",\"refs\":%u,\"inode\":%" PRIu64 ",\"delivered\":%" PRIu64
          ",\"delivered_bytes\":%" PRIu64 ",\"invalid\":%" PRIu64 ",\"sent\":%" PRIu64
          ",\"kernel_ring_full\":%" PRIu64 "}",
          i ? "," : "", k.socket_id, k.app_id,
          json_string(endpoint(k.local_addr, k.local_port)).c_str(),
          connected ? json_string(endpoint(k.remote_addr, k.remote_port)).c_str() : "null",
          json_string(get_name(k.ifname, sizeof(k.ifname))).c_str(), flags_text(k.flags).c_str(),
          k.refs, k.inode, k.delivered, k.delivered_bytes, k.invalid, k.sent, k.rx_ring_full);
    }
    return out + "]\n";
  }
  out = line("%5s %4s %-28s %-28s %-20s %4s %10s %12s %7s %9s %9s\n", "sock", "app", "local",
             "remote", "flags", "refs", "delivered", "bytes", "invalid", "sent", "kern-full");
  for (const SocketStatus& k : sockets)
    out += line("%5u %4u %-28s %-28s %-20s %4u %10" PRIu64 " %12" PRIu64 " %7" PRIu64 " %9" PRIu64
                " %9" PRIu64 "\n",
                k.socket_id, k.app_id, endpoint(k.local_addr, k.local_port).c_str(),
                (k.flags & kSocketConnected) ? endpoint(k.remote_addr, k.remote_port).c_str() : "*",
                flags_text(k.flags).c_str(), k.refs, k.delivered, k.delivered_bytes, k.invalid,
                k.sent, k.rx_ring_full);
  return out;
}

}  // namespace lrp::service
