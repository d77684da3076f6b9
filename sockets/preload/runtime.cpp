#include "sockets/preload/runtime.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "service/protocol.h"
#include "sockets/api/service_backend.h"
#include "sockets/preload/fd_reserve.h"
#include "sockets/preload/libc_calls.h"
#include "sockets/preload/wait_policy.h"

namespace lrp::preload {

thread_local int InsideLrp::depth_ = 0;

namespace {

constexpr int64_t kRetryOpenNs = 1'000'000'000;

int prefix_length(const sockaddr* mask) {
  if (mask == nullptr) return 0;
  const uint8_t* bytes = nullptr;
  size_t n = 0;
  if (mask->sa_family == AF_INET) {
    bytes = reinterpret_cast<const uint8_t*>(&reinterpret_cast<const sockaddr_in*>(mask)->sin_addr);
    n = 4;
  } else if (mask->sa_family == AF_INET6) {
    bytes =
        reinterpret_cast<const uint8_t*>(&reinterpret_cast<const sockaddr_in6*>(mask)->sin6_addr);
    n = 16;
  }
  int bits = 0;
  for (size_t i = 0; i < n; ++i) bits += __builtin_popcount(bytes[i]);
  return bits;
}

// Both in the 16-byte form; an IPv4 prefix counts from byte 12.
bool same_prefix(const IpAddress& a, const IpAddress& b, int prefix_len) {
  if (a.is_v4() != b.is_v4()) return false;
  const int start = a.is_v4() ? 96 : 0;
  const int bits = start + prefix_len;
  for (int i = 0; i < bits; ++i) {
    const uint8_t m = static_cast<uint8_t>(0x80u >> (i % 8));
    if ((a.bytes()[i / 8] & m) != (b.bytes()[i / 8] & m)) return false;
  }
  return true;
}

std::optional<IpAddress> address_of(const sockaddr* sa) {
  if (sa == nullptr || (sa->sa_family != AF_INET && sa->sa_family != AF_INET6)) return std::nullopt;
  sockaddr_storage ss{};
  std::memcpy(&ss, sa, sa->sa_family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6));
  auto a = IpAddress::from_sockaddr(ss);
  if (!a) return std::nullopt;
  return a.value();
}

bool is_multicast(const IpAddress& a) {
  if (a.is_v4()) return (a.v4_bytes()[0] & 0xf0) == 0xe0 || a.to_v4().s_addr == INADDR_BROADCAST;
  return a.bytes()[0] == 0xff;
}

}  // namespace

Runtime& Runtime::get() {
  // Never destroyed: sockets may be used by other threads while the process exits.
  static Runtime* runtime = new Runtime();
  return *runtime;
}

// Read once, then only read: the calls on every datagram take no lock.
const Settings* Runtime::settings() {
  std::call_once(settings_once_, [this] {
    auto s = settings_from_env();
    if (s) {
      settings_ = std::make_unique<Settings>(s.value());
    } else {
      say(s.error().context + "; every socket stays on the kernel");
    }
  });
  return settings_.get();
}

bool Runtime::interface_known() {
  if (settings() == nullptr) return false;
  std::call_once(interface_once_, [this] { load_interface(); });
  return true;
}

// In process: the engine's interface. With lrpd: the interfaces lrpd
// serves, as it says (the first one names the datagrams' interface).
std::vector<std::string> Runtime::served_interfaces() {
  if (settings_->in_process) return {settings_->iface};
  std::vector<std::string> names;
  auto stack = this->stack();
  if (!stack) return names;
  auto* lrpd = dynamic_cast<sockets::ServiceBackend*>(&stack.value()->backend());
  if (lrpd == nullptr) return names;
  auto engines = lrpd->client().query(service::MsgType::QueryStatus);
  if (!engines) return names;
  for (const service::Message& m : engines.value()) {
    service::EngineStatus e{};
    if (m.type != service::MsgType::EngineStatusRecord || !m.read(&e)) continue;
    const std::string name(e.ifname, strnlen(e.ifname, sizeof(e.ifname)));
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  }
  return names;
}

void Runtime::load_interface() {
  const std::vector<std::string> names = served_interfaces();
  InsideLrp inside;
  if (names.empty()) return;
  ifindex_ = static_cast<int>(if_nametoindex(names[0].c_str()));
  const int probe = libc().socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (probe >= 0) {
    ifreq req{};
    std::strncpy(req.ifr_name, names[0].c_str(), IFNAMSIZ - 1);
    if (libc().ioctl(probe, SIOCGIFMTU, &req) == 0 && req.ifr_mtu > 0) mtu_ = req.ifr_mtu;
    libc().close(probe);
  }
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return;
  for (ifaddrs* i = list; i != nullptr; i = i->ifa_next) {
    if (i->ifa_addr == nullptr || std::find(names.begin(), names.end(), i->ifa_name) == names.end())
      continue;
    auto address = address_of(i->ifa_addr);
    if (!address) continue;
    InterfacePrefix p{address.value(), prefix_length(i->ifa_netmask), {}};
    if (address->is_v4()) {
      // The kernel makes the subnet's all-ones host a broadcast address
      // whenever the prefix is shorter than /31, whatever `brd` says.
      if (p.prefix_len < 31) {
        const uint32_t mask = p.prefix_len == 0 ? 0 : ~0u << (32 - p.prefix_len);
        in_addr all_ones{};
        all_ones.s_addr = htonl((ntohl(address->to_v4().s_addr) & mask) | ~mask);
        p.broadcasts.push_back(IpAddress::from_v4(all_ones));
      }
      if ((i->ifa_flags & IFF_BROADCAST) != 0) {
        if (auto b = address_of(i->ifa_broadaddr); b && !b->is_any()) p.broadcasts.push_back(*b);
      }
    }
    prefixes_.push_back(p);
  }
  freeifaddrs(list);
}

bool Runtime::serves(const IpAddress& local) {
  if (settings() == nullptr) return false;
  if (local.is_any()) return true;
  return is_interface_address(local);
}

bool Runtime::is_interface_address(const IpAddress& a) {
  if (!interface_known()) return false;
  return std::any_of(prefixes_.begin(), prefixes_.end(),
                     [&](const InterfacePrefix& p) { return p.address == a; });
}

bool Runtime::reaches(const IpAddress& destination) {
  if (!interface_known() || destination.is_any() || is_multicast(destination)) return false;
  bool on_link = false;
  for (const InterfacePrefix& p : prefixes_) {
    if (p.address == destination ||
        std::find(p.broadcasts.begin(), p.broadcasts.end(), destination) != p.broadcasts.end())
      return false;
    on_link = on_link || same_prefix(p.address, destination, p.prefix_len);
  }
  return on_link;
}

std::optional<IpAddress> Runtime::source_for(const IpAddress& destination) {
  if (!interface_known()) return std::nullopt;
  for (const InterfacePrefix& p : prefixes_)
    if (same_prefix(p.address, destination, p.prefix_len)) return p.address;
  return std::nullopt;
}

int Runtime::ifindex() {
  return interface_known() ? ifindex_ : 0;
}

int Runtime::mtu() {
  return interface_known() ? mtu_ : 1500;
}

Result<std::shared_ptr<sockets::Stack>> Runtime::stack() {
  const Settings* s = settings();
  if (s == nullptr) return make_error(EINVAL, "lrp is not configured");
  std::lock_guard lock(mutex_);
  if (stack_ != nullptr) return stack_;
  if (forked_from_stack_)
    return make_error(EBUSY, "this process was forked from one that serves " + s->iface +
                                 " with lrp in process; only the parent's engine serves it");
  if (stack_error_ && now_ns() - stack_error_at_ns_ < kRetryOpenNs) return *stack_error_;
  FdReserve::get().reserve();
  InsideLrp inside;
  sockets::StackConfig config;
  config.in_process = s->in_process;
  config.lrpd_socket = s->socket;
  config.name = program_invocation_short_name;
  config.on_background_thread = [] { InsideLrp::mark_thread(); };
  config.ifname = s->iface;
  auto mode = sched::parse_mode(s->mode);
  auto threading = sched::parse_threading(s->threading);
  if (!mode) return mode.error();
  if (!threading) return threading.error();
  config.mode = mode.value();
  config.threading = threading.value();
  config.xdp_mode = s->generic_xdp ? XdpMode::Generic : XdpMode::Native;
  config.metrics = s->metrics;
  // libbpf explains a refused attach in several lines of its own; the
  // library says it in one (libbpf's stay for LRP_VERBOSE).
  config.quiet = !s->verbose;
  auto stack = sockets::Stack::open(config);
  if (!stack) {
    stack_error_ = stack.error();
    stack_error_at_ns_ = now_ns();
    return stack.error();
  }
  stack_error_.reset();
  stack_ = std::move(stack.value());
  if (s->verbose) {
    const std::string url = stack_->metrics_url();
    if (s->in_process) {
      say("serving udp on " + s->iface + " (mode " + s->mode + ", threading " + s->threading +
          (url.empty() ? std::string() : ", metrics at " + url) + ")");
    } else {
      say("serving udp through lrpd");
    }
  }
  return stack_;
}

std::shared_ptr<sockets::Stack> Runtime::open_stack() {
  std::lock_guard lock(mutex_);
  return stack_;
}

void Runtime::note_fork_child() {
  // Called in the child right after fork, one thread only: no lock needed,
  // and the parent's lock state is not to be trusted.
  new (&mutex_) std::mutex();
  // lrpd's client follows a fork by itself: the child keeps serving.
  if (stack_ != nullptr && settings_ != nullptr && settings_->in_process) {
    forked_from_stack_ = true;
    // The stack's memory and fds are the parent's: leave them alone for good.
    new std::shared_ptr<sockets::Stack>(std::move(stack_));
    stack_ = nullptr;
  }
}

void Runtime::note_io_uring() {
  io_uring_.store(true, std::memory_order_release);
}

void Runtime::say(const std::string& message) {
  const std::string line = "lrp-preload: " + message + "\n";
  (void)!libc().write(2, line.data(), line.size());
}

void Runtime::warn_once(const std::string& key, const std::string& message) {
  {
    std::lock_guard lock(mutex_);
    if (std::find(warned_.begin(), warned_.end(), key) != warned_.end()) return;
    warned_.push_back(key);
  }
  say(message);
}

}  // namespace lrp::preload
