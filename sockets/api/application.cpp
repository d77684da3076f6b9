#include "sockets/api/application.h"

#include <algorithm>
#include <cstring>

#include "sockets/api/receive_path.h"
#include "sockets/api/stack.h"
#include "sockets/api/udp_socket.h"

namespace lrp::sockets {

Application::Application(std::shared_ptr<Stack> stack, const ApplicationConfig& config,
                         BackendApp id, bool exclusive)
    : stack_(std::move(stack)), config_(config), id_(id), exclusive_(exclusive) {}

Result<std::shared_ptr<Application>> Application::create(std::shared_ptr<Stack> stack,
                                                         const ApplicationConfig& config,
                                                         bool exclusive) {
  Backend& backend = stack->backend();
  auto id = backend.add_app(config);
  if (!id) return id.error();
  std::shared_ptr<Application> app(new Application(stack, config, id.value(), exclusive));
  int64_t spin_ns = 50'000;
  if (stack->config().mode == sched::Mode::Poll) spin_ns = -1;
  if (stack->config().mode == sched::Mode::Interrupt) spin_ns = 0;
  auto path = ReceivePath::create(backend, id.value(), spin_ns);
  if (!path) return path.error();  // the destructor removes the scheduler's application
  app->path_ = std::move(path.value());
  return app;
}

Application::~Application() {
  if (path_ != nullptr) path_->release_cached();
  path_.reset();
  (void)stack_->backend().remove_app(id_);
  std::lock_guard lock(mutex_);
  stack_->count_socket(-static_cast<int>(slots_.size()));
}

Result<SlotId> Application::add_slot(const BindSpec& bind, int kernel_fd) {
  std::lock_guard lock(mutex_);
  auto slot = stack_->backend().add_socket(id_, bind, kernel_fd);
  if (!slot) return slot.error();
  slots_.push_back(slot.value());
  stack_->count_socket(1);
  return slot;
}

Status Application::remove_slot(SlotId slot) {
  std::lock_guard lock(mutex_);
  auto it = std::find(slots_.begin(), slots_.end(), slot);
  if (it == slots_.end())
    return make_error(EBADF, "close socket " + std::to_string(slot) + " of application '" +
                                 config_.name + "': not one of its sockets");
  slots_.erase(it);
  stack_->count_socket(-1);
  LRP_TRY(stack_->backend().remove_socket(id_, slot));
  path_->forget_slot(slot);
  return {};
}

Result<std::unique_ptr<UdpSocket>> Application::open_udp(const BindSpec& bind) {
  if (exclusive_)
    return make_error(EINVAL, "application '" + config_.name + "' belongs to one socket");
  auto resolved = stack_->resolve_bind(bind);
  if (!resolved) return resolved.error();
  auto kernel = KernelSocket::open(resolved.value());
  if (!kernel) return kernel.error();
  resolved->port = kernel->port();
  auto slot = add_slot(resolved.value(), kernel->fd());
  if (!slot) return slot.error();
  SocketConfig config;
  config.application = config_;
  return std::unique_ptr<UdpSocket>(new UdpSocket(shared_from_this(), resolved.value(),
                                                  slot.value(), config, std::move(kernel.value())));
}

Result<size_t> Application::receive(std::span<Datagram> out, int timeout_ms) {
  return path_->receive(out, timeout_ms);
}

void Application::done(const Datagram& datagram) {
  path_->done({&datagram, 1});
}

void Application::done(std::span<const Datagram> datagrams) {
  path_->done(datagrams);
}

Status Application::watch_kernel(SlotId slot, KernelSocket* socket) {
  return path_->watch_kernel(slot, socket);
}

void Application::unwatch_kernel(SlotId slot, int fd) {
  path_->unwatch_kernel(slot, fd);
}

Result<ReceiveInfo> Application::receive_copy(std::span<uint8_t> buffer, int timeout_ms,
                                              bool want_local) {
  Datagram d;
  if (!path_->receive_one(&d, timeout_ms))
    return make_error(EAGAIN, "receive on application '" + config_.name + "': nothing arrived");
  ReceiveInfo info;
  info.datagram_size = d.view.payload.size();
  info.size = std::min(buffer.size(), info.datagram_size);
  info.truncated = info.size < info.datagram_size;
  if (info.size > 0) std::memcpy(buffer.data(), d.view.payload.data(), info.size);
  info.source = d.view.source;
  if (want_local) info.local = d.view.destination;
  info.slot = d.slot;
  info.through_kernel = d.queue == kKernelQueue;
  info.tos = d.view.tos;
  info.ttl = d.view.ttl;
  done(d);
  return info;
}

int Application::ready_fd() const {
  return path_->ready_fd();
}

AppStats Application::counters() const {
  return stack_->backend().app_stats(id_);
}

size_t Application::socket_count() const {
  std::lock_guard lock(mutex_);
  return slots_.size();
}

}  // namespace lrp::sockets
