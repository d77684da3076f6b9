#include "sockets/preload/lrp_flow.h"

#include <algorithm>
#include <map>

#include "sockets/preload/runtime.h"

namespace lrp::preload {

namespace {

std::mutex registry_mutex;
std::map<std::string, std::weak_ptr<LrpFlow>>& registry() {
  static auto* flows = new std::map<std::string, std::weak_ptr<LrpFlow>>();
  return *flows;
}

}  // namespace

Result<std::shared_ptr<LrpFlow>> LrpFlow::join(const std::shared_ptr<sockets::Stack>& stack,
                                               const std::string& key,
                                               const std::vector<BindSpec>& binds,
                                               const sockets::SocketConfig& config,
                                               bool reuseport) {
  // Declared before the lock: a flow that fails to open is destroyed after
  // the lock is released (its destructor takes the lock).
  std::shared_ptr<LrpFlow> flow;
  std::lock_guard lock(registry_mutex);
  if (auto existing = registry()[key].lock()) {
    if (reuseport && existing->reuseport_) return existing;
    return make_error(EADDRINUSE, "lrp already serves udp " + key +
                                      " for a socket it cannot share with (no SO_REUSEPORT)");
  }
  flow.reset(new LrpFlow());
  flow->key_ = key;
  flow->reuseport_ = reuseport;
  flow->stack_ = stack;
  InsideLrp inside;
  for (const BindSpec& bind : binds) {
    auto socket = stack->open_udp(bind, config);
    if (!socket) return socket.error();
    flow->sockets_.push_back(std::move(socket.value()));
  }
  registry()[key] = flow;
  return flow;
}

std::shared_ptr<LrpFlow> LrpFlow::find(const std::string& key) {
  std::lock_guard lock(registry_mutex);
  auto it = registry().find(key);
  return it == registry().end() ? nullptr : it->second.lock();
}

LrpFlow::~LrpFlow() {
  InsideLrp inside;
  for (auto& s : sockets_) (void)s->close();
  sockets_.clear();
  std::lock_guard lock(registry_mutex);
  auto it = registry().find(key_);
  if (it != registry().end() && it->second.expired()) registry().erase(it);
}

void LrpFlow::add_member(TrackedSocket* member) {
  std::lock_guard lock(members_mutex_);
  members_.push_back(member);
  member_count_.store(members_.size(), std::memory_order_release);
}

void LrpFlow::remove_member(TrackedSocket* member) {
  std::lock_guard lock(members_mutex_);
  members_.erase(std::remove(members_.begin(), members_.end(), member), members_.end());
  member_count_.store(members_.size(), std::memory_order_release);
}

bool LrpFlow::maybe_pending() const {
  if (cached_.load(std::memory_order_relaxed)) return true;
  for (const auto& s : sockets_)
    if (s->maybe_pending()) return true;
  return false;
}

size_t LrpFlow::pending_count() const {
  size_t n = 0;
  for (const auto& s : sockets_) n += s->pending();
  return n;
}

TrackedSocket* LrpFlow::owner_locked(const Endpoint& source) {
  if (members_.empty()) return nullptr;
  if (members_.size() == 1) return members_[0];
  return members_[std::hash<Endpoint>{}(source) % members_.size()];
}

TrackedSocket* LrpFlow::owner_of(const Endpoint& source) {
  std::lock_guard lock(members_mutex_);
  return owner_locked(source);
}

sockets::UdpSocket* LrpFlow::for_family(bool v4) {
  for (auto& s : sockets_)
    if ((s->family() == AF_INET) == v4) return s.get();
  return nullptr;
}

}  // namespace lrp::preload
