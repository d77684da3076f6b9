#include "sockets/preload/runtime.h"

#include <ifaddrs.h>
#include <net/if.h>
#include <unistd.h>

#include <algorithm>

#include "sockets/preload/libc_calls.h"

namespace lrp::preload {

thread_local int InsideLrp::depth_ = 0;

namespace {

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

}  // namespace

Runtime& Runtime::get() {
  // Never destroyed: sockets may be used by other threads while the process exits.
  static Runtime* runtime = new Runtime();
  return *runtime;
}

const Settings* Runtime::settings() {
  std::lock_guard lock(mutex_);
  if (!settings_loaded_) {
    settings_loaded_ = true;
    auto s = settings_from_env();
    if (s) {
      settings_ = std::make_unique<Settings>(s.value());
    } else {
      say(s.error().context + "; every socket stays on the kernel");
    }
  }
  return settings_.get();
}

void Runtime::load_interface() {
  if (interface_loaded_ || settings_ == nullptr) return;
  interface_loaded_ = true;
  InsideLrp inside;
  ifindex_ = static_cast<int>(if_nametoindex(settings_->iface.c_str()));
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return;
  for (ifaddrs* i = list; i != nullptr; i = i->ifa_next) {
    if (i->ifa_addr == nullptr || settings_->iface != i->ifa_name) continue;
    if (i->ifa_addr->sa_family != AF_INET && i->ifa_addr->sa_family != AF_INET6) continue;
    sockaddr_storage ss{};
    std::memcpy(&ss, i->ifa_addr,
                i->ifa_addr->sa_family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6));
    auto address = IpAddress::from_sockaddr(ss);
    if (address) prefixes_.push_back({address.value(), prefix_length(i->ifa_netmask)});
  }
  freeifaddrs(list);
}

bool Runtime::serves(const IpAddress& local) {
  if (settings() == nullptr) return false;
  if (local.is_any()) return true;
  std::lock_guard lock(mutex_);
  load_interface();
  return std::any_of(prefixes_.begin(), prefixes_.end(),
                     [&](const InterfacePrefix& p) { return p.address == local; });
}

bool Runtime::reaches(const IpAddress& destination) {
  if (settings() == nullptr) return false;
  std::lock_guard lock(mutex_);
  load_interface();
  return std::any_of(prefixes_.begin(), prefixes_.end(), [&](const InterfacePrefix& p) {
    return same_prefix(p.address, destination, p.prefix_len);
  });
}

int Runtime::ifindex() {
  if (settings() == nullptr) return 0;
  std::lock_guard lock(mutex_);
  load_interface();
  return ifindex_;
}

Result<std::shared_ptr<sockets::Stack>> Runtime::stack() {
  const Settings* s = settings();
  if (s == nullptr) return make_error(EINVAL, "lrp is not configured");
  std::lock_guard lock(mutex_);
  if (stack_ != nullptr) return stack_;
  if (forked_from_stack_)
    return make_error(EBUSY, "this process was forked from one that serves " + s->iface +
                                 " with lrp; only the parent's engine serves it");
  InsideLrp inside;
  sockets::StackConfig config;
  config.in_process = true;
  config.ifname = s->iface;
  auto mode = sched::parse_mode(s->mode);
  auto threading = sched::parse_threading(s->threading);
  if (!mode) return mode.error();
  if (!threading) return threading.error();
  config.mode = mode.value();
  config.threading = threading.value();
  config.xdp_mode = s->generic_xdp ? XdpMode::Generic : XdpMode::Native;
  config.metrics = s->metrics;
  auto stack = sockets::Stack::open(config);
  if (!stack) return stack.error();
  stack_ = std::move(stack.value());
  if (s->verbose) {
    const std::string url = stack_->metrics_url();
    say("serving udp on " + s->iface + " (mode " + s->mode + ", threading " + s->threading +
        (url.empty() ? std::string() : ", metrics at " + url) + ")");
  }
  return stack_;
}

void Runtime::note_fork_child() {
  // Called in the child right after fork, one thread only: no lock needed,
  // and the parent's lock state is not to be trusted.
  new (&mutex_) std::mutex();
  if (stack_ != nullptr) {
    forked_from_stack_ = true;
    // The stack's memory and fds are the parent's: leave them alone for good.
    new std::shared_ptr<sockets::Stack>(std::move(stack_));
    stack_ = nullptr;
  }
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
