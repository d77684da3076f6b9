#include "sockets/api/udp_socket.h"

#include "sockets/api/application.h"
#include "sockets/api/kernel_inbox.h"
#include "sockets/api/receive_path.h"
#include "sockets/api/stack.h"

namespace lrp::sockets {

UdpSocket::UdpSocket(std::shared_ptr<Application> app, const BindSpec& bind, SlotId slot,
                     const SocketConfig& config, KernelSocket kernel)
    : app_(std::move(app)),
      bind_(bind),
      local_{bind.local, bind.port},
      slot_(slot),
      config_(config),
      kernel_(std::move(kernel)) {
  if (kernel_.owned()) (void)app_->watch_kernel(slot_, &kernel_);
}

UdpSocket::~UdpSocket() {
  if (open_) (void)close();
}

Status UdpSocket::check_open(const char* what) const {
  if (!open_)
    return make_error(EBADF, std::string(what) + " on udp port " + std::to_string(local_.port) +
                                 ": socket is closed");
  return {};
}

bool UdpSocket::owns_application() const {
  return app_ != nullptr && app_->exclusive_;
}

BackendApp UdpSocket::application_id() const {
  return app_ == nullptr ? ~BackendApp{0} : app_->id();
}

SocketStats UdpSocket::counters() const {
  return app_ == nullptr ? SocketStats{} : app_->stack().backend().socket_stats(slot_);
}

bool UdpSocket::maybe_pending() const {
  return app_ != nullptr && app_->stack().backend().maybe_pending(app_->id());
}

size_t UdpSocket::pending() const {
  return app_ == nullptr ? 0 : app_->stack().backend().pending(app_->id(), slot_);
}

Result<size_t> UdpSocket::receive(std::span<Datagram> out, int timeout_ms) {
  LRP_TRY(check_open("receive"));
  if (!app_->exclusive_)
    return make_error(EINVAL, "receive on udp port " + std::to_string(local_.port) +
                                  ": the socket shares application '" + app_->config().name +
                                  "'; receive through the application");
  return app_->receive(out, timeout_ms);
}

void UdpSocket::done(const Datagram& datagram) {
  if (open_) app_->done(datagram);
}

void UdpSocket::done(std::span<const Datagram> datagrams) {
  if (open_) app_->done(datagrams);
}

Result<ReceiveInfo> UdpSocket::receive_copy(std::span<uint8_t> buffer, int timeout_ms) {
  LRP_TRY(check_open("receive"));
  if (!app_->exclusive_)
    return make_error(EINVAL, "receive on udp port " + std::to_string(local_.port) +
                                  ": the socket shares application '" + app_->config().name +
                                  "'; receive through the application");
  return app_->receive_copy(buffer, timeout_ms, config_.receive_local_address);
}

int UdpSocket::ready_fd() const {
  return app_ == nullptr ? -1 : app_->ready_fd();
}

namespace {

// Errors after which the kernel socket sends the datagram: lrpd is away or
// not yet serving the socket (ENOTCONN), the destination is this host or
// behind another interface (EXDEV), or the datagram is larger than the path
// MTU, which the kernel fragments (EMSGSIZE).
bool kernel_sends(const Error& e) {
  return e.code == ENOTCONN || e.code == EXDEV || e.code == EMSGSIZE;
}

}  // namespace

Status UdpSocket::queue_one(const Endpoint& to, std::span<const uint8_t> payload,
                            const IpAddress* from, bool kick_when_full, int reply_queue) {
  if (to.addr.is_v4() != bind_.local.is_v4())
    return make_error(EAFNOSUPPORT, "send from udp port " + std::to_string(local_.port) + " to " +
                                        to.to_string() + ": the socket is of the other family");
  if (to.port == 0 || to.addr.is_any())
    return make_error(EINVAL, "send from udp port " + std::to_string(local_.port) + " to " +
                                  to.to_string() + ": no such destination");
  Status st = app_->stack().backend().send(slot_, to, payload, from, reply_queue, kick_when_full);
  if (!st.ok() && kernel_sends(st.error()) && kernel_.fd() >= 0)
    return kernel_.send(to, payload, from);
  return st;
}

Status UdpSocket::send_to(const Endpoint& to, std::span<const uint8_t> payload,
                          const IpAddress* from) {
  return send_locked_and_kick(to, payload, from, -1);
}

Status UdpSocket::send_locked_and_kick(const Endpoint& to, std::span<const uint8_t> payload,
                                       const IpAddress* from, int reply_queue) {
  LRP_TRY(check_open("send"));
  std::lock_guard lock(send_mutex_);
  LRP_TRY(queue_one(to, payload, from, /*kick_when_full=*/true, reply_queue));
  return app_->stack().backend().flush(slot_);
}

Status UdpSocket::send(std::span<const uint8_t> payload) {
  if (!bind_.remote.has_value())
    return make_error(EDESTADDRREQ,
                      "send on udp port " + std::to_string(local_.port) + ": not connected");
  return send_to(*bind_.remote, payload);
}

Status UdpSocket::reply(const Datagram& to, std::span<const uint8_t> payload) {
  const IpAddress from = to.view.destination.addr;
  // What came through the kernel (from this host, another interface) goes
  // back the same way.
  if (to.queue == kKernelQueue) {
    LRP_TRY(check_open("send"));
    return kernel_.send(to.view.source, payload, &from);
  }
  return send_locked_and_kick(to.view.source, payload, &from, to.queue);
}

Result<size_t> UdpSocket::send_batch(std::span<const OutDatagram> batch, Kick kick) {
  LRP_TRY(check_open("send"));
  std::lock_guard lock(send_mutex_);
  size_t done = 0;
  while (done < batch.size()) {
    // The family is this layer's rule; the backend checks the rest.
    const std::span<const OutDatagram> rest = batch.subspan(done);
    size_t n = 0;
    while (n < rest.size() && rest[n].to.addr.is_v4() == bind_.local.is_v4()) ++n;
    if (n == 0) {
      if (done > 0) break;
      return make_error(EAFNOSUPPORT, "send from udp port " + std::to_string(local_.port) + " to " +
                                          rest[0].to.to_string() +
                                          ": the socket is of the other family");
    }
    // One backend call for the run; it stops at the first it refuses.
    auto r = app_->stack().backend().send_batch(slot_, rest.first(n), -1, kick);
    if (r.ok()) {
      done += r.value();
      if (r.value() == 0) break;
      continue;
    }
    // The first of the run was refused: the kernel socket takes what lrp
    // cannot send; anything else ends the batch.
    const OutDatagram& d = rest[0];
    if (!kernel_sends(r.error()) || kernel_.fd() < 0) {
      if (done > 0) break;
      return r.error();
    }
    Status st = kernel_.send(d.to, d.payload, d.from ? &*d.from : nullptr);
    if (!st.ok()) {
      if (done > 0) break;
      return st.error();
    }
    ++done;
  }
  return done;
}

Status UdpSocket::flush() {
  LRP_TRY(check_open("flush"));
  std::lock_guard lock(send_mutex_);
  return app_->stack().backend().flush(slot_);
}

Status UdpSocket::connect(const Endpoint& remote) {
  LRP_TRY(check_open("connect"));
  BindSpec next = bind_;
  next.remote = remote;
  auto resolved = app_->stack().resolve_bind(next);
  if (!resolved) return resolved.error();
  if (resolved->remote == bind_.remote && resolved->local == bind_.local) return {};
  std::lock_guard lock(send_mutex_);
  if (kernel_.owned()) LRP_TRY(kernel_.connect(remote));
  // The backend adds the new flow before the old one goes, so datagrams
  // from the remote are never unsteered; the slot stays.
  LRP_TRY(app_->stack().backend().rebind_socket(app_->id(), slot_, resolved.value(), kernel_.fd()));
  bind_ = resolved.value();
  local_ = Endpoint{bind_.local, bind_.port};
  return {};
}

Status UdpSocket::close() {
  LRP_TRY(check_open("close"));
  std::lock_guard lock(send_mutex_);
  open_ = false;
  if (kernel_.owned()) app_->unwatch_kernel(slot_, kernel_.fd());
  Status st = app_->remove_slot(slot_);
  app_.reset();
  kernel_ = KernelSocket();
  return st;
}

Status UdpSocket::set_option(Option option, int64_t value) {
  LRP_TRY(check_open("set option"));
  if (option == Option::ReceiveLocalAddress) return sockets::set_option(config_, option, value);
  SocketConfig probe = config_;
  LRP_TRY(sockets::set_option(probe, option, value));
  if (get_option(probe, option) == get_option(config_, option)) return {};
  return make_error(EBUSY, std::string("set ") + to_string(option) + " on udp port " +
                               std::to_string(local_.port) +
                               ": fixed once the socket is open; give it in SocketConfig");
}

Result<int64_t> UdpSocket::option(Option option) const {
  LRP_TRY(check_open("get option"));
  return get_option(config_, option);
}

}  // namespace lrp::sockets
