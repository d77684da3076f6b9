#include "sockets/api/udp_socket.h"

#include "sockets/api/application.h"
#include "sockets/api/receive_path.h"
#include "sockets/api/stack.h"

namespace lrp::sockets {

UdpSocket::UdpSocket(std::shared_ptr<Application> app, const BindSpec& bind, SlotId slot,
                     const SocketConfig& config)
    : app_(std::move(app)),
      bind_(bind),
      local_{bind.local, bind.port},
      slot_(slot),
      config_(config) {}

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

sched::AppId UdpSocket::application_id() const {
  return app_ == nullptr ? sched::kMaxApps : app_->id();
}

const SocketCounters& UdpSocket::counters() const {
  static const SocketCounters closed{};
  return app_ == nullptr ? closed : app_->stack().engine().counters(slot_);
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

Status UdpSocket::queue_one(const Endpoint& to, std::span<const uint8_t> payload,
                            const IpAddress* from, bool kick_when_full) {
  if (to.addr.is_v4() != bind_.local.is_v4())
    return make_error(EAFNOSUPPORT, "send from udp port " + std::to_string(local_.port) + " to " +
                                        to.to_string() + ": the socket is of the other family");
  if (to.port == 0 || to.addr.is_any())
    return make_error(EINVAL, "send from udp port " + std::to_string(local_.port) + " to " +
                                  to.to_string() + ": no such destination");
  Engine& engine = app_->stack().engine();
  Status st = engine.send(slot_, to, payload, from);
  if (!st.ok() && st.error().code == EAGAIN && kick_when_full) {
    // Completions may be waiting and the kernel may not have been kicked.
    (void)engine.flush(slot_);
    st = engine.send(slot_, to, payload, from);
  }
  return st;
}

Status UdpSocket::send_to(const Endpoint& to, std::span<const uint8_t> payload,
                          const IpAddress* from) {
  LRP_TRY(check_open("send"));
  std::lock_guard lock(send_mutex_);
  LRP_TRY(queue_one(to, payload, from, /*kick_when_full=*/true));
  return app_->stack().engine().flush(slot_);
}

Status UdpSocket::send(std::span<const uint8_t> payload) {
  if (!bind_.remote.has_value())
    return make_error(EDESTADDRREQ,
                      "send on udp port " + std::to_string(local_.port) + ": not connected");
  return send_to(*bind_.remote, payload);
}

Status UdpSocket::reply(const Datagram& to, std::span<const uint8_t> payload) {
  const IpAddress from = to.view.destination.addr;
  return send_to(to.view.source, payload, &from);
}

Result<size_t> UdpSocket::send_batch(std::span<const OutDatagram> batch, Kick kick) {
  LRP_TRY(check_open("send"));
  std::lock_guard lock(send_mutex_);
  size_t sent = 0;
  Status first_error;
  for (const OutDatagram& d : batch) {
    Status st =
        queue_one(d.to, d.payload, d.from.has_value() ? &*d.from : nullptr, kick == Kick::Now);
    if (!st.ok()) {
      first_error = st;
      break;
    }
    ++sent;
  }
  if (sent == 0 && !first_error.ok()) return first_error.error();
  if (kick == Kick::Now) LRP_TRY(app_->stack().engine().flush(slot_));
  return sent;
}

Status UdpSocket::flush() {
  LRP_TRY(check_open("flush"));
  std::lock_guard lock(send_mutex_);
  return app_->stack().engine().flush(slot_);
}

Status UdpSocket::connect(const Endpoint& remote) {
  LRP_TRY(check_open("connect"));
  BindSpec next = bind_;
  next.remote = remote;
  auto resolved = app_->stack().resolve_bind(next);
  if (!resolved) return resolved.error();
  if (resolved->remote == bind_.remote && resolved->local == bind_.local) return {};
  // The new flow first, so datagrams from the remote are never unsteered.
  auto slot = app_->add_slot(resolved.value());
  if (!slot) return slot.error();
  std::lock_guard lock(send_mutex_);
  const SlotId old = slot_;
  slot_ = slot.value();
  bind_ = resolved.value();
  local_ = Endpoint{bind_.local, bind_.port};
  return app_->remove_slot(old);
}

Status UdpSocket::close() {
  LRP_TRY(check_open("close"));
  std::lock_guard lock(send_mutex_);
  open_ = false;
  Status st = app_->remove_slot(slot_);
  app_.reset();
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
