#include "sockets/api/receive_path.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>

namespace lrp::sockets {

namespace {
// Datagrams a copying receive takes from the backend at once.
constexpr size_t kCopyBatch = 32;

sched::WaitMode wait_mode(int64_t spin_ns) {
  if (spin_ns < 0) return sched::WaitMode::Poll;
  return spin_ns == 0 ? sched::WaitMode::Interrupt : sched::WaitMode::Adaptive;
}

sched::WaitConfig wait_config(int64_t spin_ns) {
  sched::WaitConfig c;
  if (spin_ns > 0) c.spin_cap = spin_ns;
  return c;
}
}  // namespace

// An empty receive as the wait loop polls it: one look at the backend and
// the kernel sockets; asleep on the path's readiness set.
class ReceivePath::TakePoll final : public sched::Pollable {
 public:
  TakePoll(ReceivePath& p, std::span<Datagram> out) : p_(p), out_(out) {}
  size_t poll() override { return p_.take_new(out_); }
  bool pure_poll() override { return p_.backend_.maybe_pending(p_.app_); }
  bool try_enter_interrupt_mode() override { return !pure_poll(); }
  void exit_interrupt_mode() override {}
  int wake_fd() const override { return p_.epoll_fd_; }

 private:
  ReceivePath& p_;
  std::span<Datagram> out_;
};

ReceivePath::ReceivePath(Backend& backend, BackendApp app, int64_t spin_ns)
    : backend_(backend), app_(app), waiter_(wait_mode(spin_ns), wait_config(spin_ns), clock_) {}

Result<std::unique_ptr<ReceivePath>> ReceivePath::create(Backend& backend, BackendApp app,
                                                         int64_t spin_ns) {
  std::unique_ptr<ReceivePath> p(new ReceivePath(backend, app, spin_ns));
  p->pending_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  p->epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  if (p->pending_fd_ < 0 || p->epoll_fd_ < 0)
    return errno_error("create the readiness fd of application " + std::to_string(app));
  const int inner = backend.ready_fd(app);
  for (int fd : {p->pending_fd_, inner}) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    if (epoll_ctl(p->epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0)
      return errno_error("watch the readiness of application " + std::to_string(app));
  }
  return p;
}

ReceivePath::~ReceivePath() {
  if (epoll_fd_ >= 0) close(epoll_fd_);
  if (pending_fd_ >= 0) close(pending_fd_);
}

size_t ReceivePath::take_cached(std::span<Datagram> out) {
  const size_t n = std::min(out.size(), cache_.size());
  std::copy_n(cache_.begin(), n, out.begin());
  cache_.erase(cache_.begin(), cache_.begin() + static_cast<std::ptrdiff_t>(n));
  return n;
}

size_t ReceivePath::take_new(std::span<Datagram> out) {
  size_t n = backend_.receive(app_, out, 0);
  if (n < out.size()) n += kernel_.take(out.subspan(n));
  return n;
}

// The one wait loop and policy (the backend's own work happens in its
// receive, in run-to-completion threading).
size_t ReceivePath::wait_and_take(std::span<Datagram> out, int timeout_ms) {
  const sched::Nanos deadline =
      timeout_ms < 0 ? -1 : clock_.now() + sched::Nanos{timeout_ms} * 1'000'000;
  TakePoll poll(*this, out);
  return waiter_.wait(poll, deadline);
}

size_t ReceivePath::receive(std::span<Datagram> out, int timeout_ms) {
  if (out.empty()) return 0;
  size_t n = take_cached(out);
  if (n < out.size()) {
    if (kernel_.empty()) {
      // Only the backend: its own receive waits as its mode says.
      n += backend_.receive(app_, out.subspan(n), n > 0 ? 0 : timeout_ms);
    } else {
      n += n > 0 || timeout_ms == 0 ? take_new(out.subspan(n)) : wait_and_take(out, timeout_ms);
    }
  }
  update_pending();
  return n;
}

bool ReceivePath::receive_one(Datagram* out, int timeout_ms) {
  if (cache_.empty()) {
    Datagram batch[kCopyBatch];
    const size_t n = receive(batch, timeout_ms);
    cache_.insert(cache_.end(), batch, batch + n);
  }
  const bool got = take_cached({out, 1}) == 1;
  update_pending();
  return got;
}

Status ReceivePath::watch_kernel(SlotId slot, KernelSocket* socket) {
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = socket->fd();
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, socket->fd(), &ev) != 0)
    return errno_error("watch the kernel socket of port " + std::to_string(socket->port()));
  kernel_.watch(slot, socket);
  return {};
}

void ReceivePath::unwatch_kernel(SlotId slot, int fd) {
  kernel_.unwatch(slot);
  (void)epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
}

void ReceivePath::done(std::span<const Datagram> datagrams) {
  // Runs of lrp datagrams go back to the backend together.
  size_t i = 0;
  while (i < datagrams.size()) {
    if (datagrams[i].queue == kKernelQueue) {
      kernel_.give_back(datagrams[i++]);
      continue;
    }
    size_t j = i + 1;
    while (j < datagrams.size() && datagrams[j].queue != kKernelQueue) ++j;
    backend_.done(datagrams.subspan(i, j - i));
    i = j;
  }
}

void ReceivePath::forget_slot(SlotId slot) {
  // The socket's datagrams were queued before it closed: they are among the
  // ones queued now, so taking that many is enough even while more arrive.
  size_t left = backend_.queued(app_);
  Datagram batch[kCopyBatch];
  while (left > 0) {
    const size_t n = backend_.receive(app_, {batch, std::min(left, kCopyBatch)}, 0);
    if (n == 0) break;
    cache_.insert(cache_.end(), batch, batch + n);
    left -= n;
  }
  for (const Datagram& d : cache_)
    if (d.slot == slot && d.queue == kKernelQueue) kernel_.give_back(d);
  std::erase_if(cache_, [slot](const Datagram& d) { return d.slot == slot; });
  update_pending();
}

void ReceivePath::release_cached() {
  for (const Datagram& d : cache_) done({&d, 1});
  cache_.clear();
  update_pending();
}

// The scheduler's doorbell is read (cleared) when its queue is popped, also
// when the pop left datagrams behind or more arrived meanwhile; this fd keeps
// the readiness level-triggered in those cases.
void ReceivePath::update_pending() {
  const bool pending = !cache_.empty() || backend_.queued(app_) > 0;
  if (pending == pending_) return;
  if (pending) {
    const uint64_t one = 1;
    (void)!write(pending_fd_, &one, sizeof(one));
  } else {
    uint64_t value;
    (void)!read(pending_fd_, &value, sizeof(value));
  }
  pending_ = pending;
}

}  // namespace lrp::sockets
