#include "sockets/api/stack.h"

#include <set>

#include "lrp/netdev.h"
#include "sockets/api/application.h"
#include "sockets/api/service_backend.h"
#ifndef LRP_SOCKETS_LRPD_ONLY
#include "sockets/api/in_process_backend.h"
#endif
#include "sockets/api/udp_socket.h"

namespace lrp::sockets {

namespace {

// One engine per interface queue and process: a second XDP attach would
// fight the first.
std::mutex open_mutex;
std::set<std::string>& open_interfaces() {
  static std::set<std::string> names;
  return names;
}

Error explain_open_failure(const StackConfig& config, const Error& e) {
  const std::string what = "open lrp on " + config.ifname;
  if (e.code == ENODEV) return Error{e.code, what + ": no such interface (" + e.context + ")"};
  if (e.code == EPERM || e.code == EACCES)
    return Error{e.code, what + ": needs root (CAP_NET_ADMIN, CAP_BPF, CAP_NET_RAW) for XDP and " +
                             "AF_XDP (" + e.context + ")"};
  return Error{e.code, what + ": " + e.context};
}

}  // namespace

// The in-process backend, unless this is the build of the native API for
// lrpd only (the drop-in library for lrpd: served programs carry neither
// libbpf nor the metrics server).
Result<std::unique_ptr<Backend>> open_in_process(StackConfig& config) {
#ifdef LRP_SOCKETS_LRPD_ONLY
  return make_error(ENOTSUP, "open lrp on " + config.ifname +
                                 " in this process: this build serves through lrpd only");
#else
  return InProcessBackend::open(config);
#endif
}

Result<std::shared_ptr<Stack>> Stack::open(const StackConfig& config) {
  if (!config.in_process) return open_on_lrpd(config);
  if (config.ifname.empty()) return make_error(ENODEV, "open lrp: no interface named");
  std::shared_ptr<Stack> stack(new Stack());
  stack->config_ = config;
  {
    std::lock_guard lock(open_mutex);
    if (!open_interfaces().insert(config.ifname).second)
      return make_error(EBUSY, "open lrp on " + config.ifname +
                                   ": this process already has a stack on the interface");
  }
  auto backend = open_in_process(stack->config_);
  if (!backend) {
    std::lock_guard lock(open_mutex);
    open_interfaces().erase(config.ifname);
    return explain_open_failure(config, backend.error());
  }
  stack->backend_ = std::move(backend.value());
  if (!config.metrics.empty()) {
    auto url = stack->start_metrics(config.metrics);
    if (!url) return url.error();
  }
  return stack;
}

Result<std::shared_ptr<Stack>> Stack::open_on_lrpd(const StackConfig& config) {
  std::shared_ptr<Stack> stack(new Stack());
  stack->config_ = config;
  service::ClientConfig cc;
  cc.socket_path = config.lrpd_socket;
  cc.name = config.name;
  cc.on_background_thread = config.on_background_thread;
  auto backend = ServiceBackend::connect(cc);
  if (!backend) return backend.error();
  stack->backend_ = std::move(backend.value());
  return stack;
}

Stack::~Stack() {
  const bool opened = backend_ != nullptr && config_.in_process;
  backend_.reset();
  if (opened) {
    std::lock_guard lock(open_mutex);
    open_interfaces().erase(config_.ifname);
  }
}

Result<std::unique_ptr<UdpSocket>> Stack::open_udp(const BindSpec& bind,
                                                   const SocketConfig& config) {
  ApplicationConfig ac = config.application;
  if (ac.name.empty())
    ac.name = std::string(bind.local.is_v4() ? "udp:" : "udp6:") + std::to_string(bind.port);
  auto resolved = resolve_bind(bind);
  if (!resolved) return resolved.error();
  // The kernel's rules first (ports in use, privileged ports); port 0 gets
  // the kernel's choice.
  auto kernel = config.kernel_fd >= 0 ? Result<KernelSocket>(KernelSocket::borrow(config.kernel_fd))
                                      : KernelSocket::open(resolved.value(), config.reuse_address);
  if (!kernel) return kernel.error();
  if (resolved->port == 0) resolved->port = kernel->port();
  auto app = Application::create(shared_from_this(), ac, /*exclusive=*/true);
  if (!app) return app.error();
  auto slot = app.value()->add_slot(resolved.value(), kernel->fd());
  if (!slot) return slot.error();
  return std::unique_ptr<UdpSocket>(new UdpSocket(app.value(), resolved.value(), slot.value(),
                                                  config, std::move(kernel.value())));
}

Result<std::shared_ptr<Application>> Stack::create_application(const ApplicationConfig& config) {
  return Application::create(shared_from_this(), config, /*exclusive=*/false);
}

Result<BindSpec> Stack::resolve_bind(const BindSpec& bind) const {
  if (!bind.remote.has_value()) return bind;
  const std::string what =
      "connect udp port " + std::to_string(bind.port) + " to " + bind.remote->to_string();
  if (bind.remote->addr.is_v4() != bind.local.is_v4())
    return make_error(EAFNOSUPPORT, what + ": the local address is of the other family");
  if (bind.remote->port == 0 || bind.remote->addr.is_any())
    return make_error(EINVAL, what + ": no such destination");
  if (!bind.local.is_any()) return bind;
  auto info = query_interface(config_.ifname);
  if (!info) return info.error();
  const bool v4 = bind.remote->addr.is_v4();
  for (const IpAddress& a : info->addresses) {
    if (a.is_v4() != v4) continue;
    BindSpec resolved = bind;
    resolved.local = a;
    return resolved;
  }
  return make_error(EADDRNOTAVAIL, what + ": " + config_.ifname + " has no address of that family");
}

Result<std::string> Stack::start_metrics(const std::string& host_port) {
  return backend_->start_metrics(host_port);
}

std::string Stack::metrics_url() const {
  return backend_->metrics_url();
}

size_t Stack::socket_count() const {
  std::lock_guard lock(mutex_);
  return sockets_;
}

void Stack::count_socket(int delta) {
  std::lock_guard lock(mutex_);
  sockets_ = static_cast<size_t>(static_cast<int64_t>(sockets_) + delta);
}

}  // namespace lrp::sockets
