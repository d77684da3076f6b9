#include "lrp/interface.h"

#include <algorithm>

#include "lrp/address_watcher.h"
#include "lrp/flow_key.h"

namespace lrp {

Result<std::unique_ptr<Interface>> Interface::open(const InterfaceConfig& config) {
  std::unique_ptr<Interface> i(new Interface());
  i->config_ = config;
  auto info = query_interface(config.ifname);
  if (!info) return info.error();
  i->info_ = info.value();
  std::vector<uint32_t> queues = config.queues;
  if (queues.empty())
    for (uint32_t q = 0; q < i->info_.rx_queues; ++q) queues.push_back(q);
  for (uint32_t q : queues)
    if (q >= i->info_.rx_queues || q >= LRP_MAX_QUEUES)
      return make_error(EINVAL, "serve queue " + std::to_string(q) + " of " + config.ifname +
                                    ": it has " + std::to_string(i->info_.rx_queues) +
                                    " active receive queues (lrp serves at most " +
                                    std::to_string(LRP_MAX_QUEUES) + ")");
  auto program = XdpProgram::attach(i->info_.ifindex, config.ifname, config.xdp_mode);
  if (!program) return program.error();
  i->program_ = std::move(program.value());
  i->shed_ = std::make_unique<ShedVotes>(*i->program_);
  // Local senders on veth leave partial UDP checksums (netdev.h).
  auto partial = driver_may_pass_partial_checksums(config.ifname);
  if (!partial) return partial.error();
  auto neighbours = NeighbourResolver::open(i->info_);  // one for the interface's engines
  if (!neighbours) return neighbours.error();
  for (uint32_t q : queues) {
    EngineConfig ec = config.engine;
    ec.ifname = config.ifname;
    ec.queue = q;
    ec.parse.accept_partial_checksum = partial.value();
    auto engine = Engine::open(ec, *i->program_, *i->shed_, i->info_, neighbours.value());
    if (!engine) return engine.error();
    i->engines_.push_back(std::move(engine.value()));
  }
  i->note_addresses(i->info_.addresses);
  // XDP takes only what is addressed to this host: the MAC (untagged) here,
  // the addresses kept in step by the watcher.
  LRP_TRY(i->program_->set_interface(i->info_.mac, 0));
  // Sockets may bind an address added later, and engines answer from the
  // current set.
  Interface* self = i.get();
  auto watcher = AddressWatcher::start(i->info_.ifindex, *i->program_,
                                       [self](const AddressChange& c) { self->note_change(c); });
  if (!watcher) return watcher.error();
  i->address_watcher_ = std::move(watcher.value());
  return i;
}

Interface::~Interface() {
  address_watcher_.reset();  // it writes into the program
  for (SlotId slot = 0; slot < slots_.size(); ++slot)
    if (slots_[slot].open) (void)close_socket(slot);
  // Engines before the program: their sockets leave its socket map.
  engines_.clear();
  program_.reset();
}

Engine* Interface::engine_of_queue(uint32_t queue) {
  for (auto& e : engines_)
    if (e->queue() == queue) return e.get();
  return nullptr;
}

void Interface::note_addresses(std::vector<IpAddress> addresses) {
  {
    std::lock_guard lock(mutex_);
    addresses_ = addresses;
  }
  for (auto& e : engines_) e->set_addresses(addresses);
}

void Interface::note_change(const AddressChange& change) {
  std::vector<IpAddress> now = addresses();
  const auto it = std::find(now.begin(), now.end(), change.address);
  const bool local = (change.flags & AddressFlags::Local) != 0;
  if (local == (it != now.end())) return;
  if (local)
    now.push_back(change.address);
  else
    now.erase(it);
  note_addresses(std::move(now));
}

std::vector<IpAddress> Interface::addresses() const {
  std::lock_guard lock(mutex_);
  return addresses_;
}

bool Interface::slot_open(SlotId slot) const {
  std::lock_guard lock(mutex_);
  return slot < slots_.size() && slots_[slot].open;
}

BindSpec Interface::bind_of(SlotId slot) const {
  std::lock_guard lock(mutex_);
  return slot < slots_.size() ? slots_[slot].bind : BindSpec{};
}

std::vector<SlotId> Interface::open_slots() const {
  std::lock_guard lock(mutex_);
  std::vector<SlotId> out;
  for (SlotId s = 0; s < slots_.size(); ++s)
    if (slots_[s].open) out.push_back(s);
  return out;
}

// Caller holds mutex_.
Result<BindSpec> Interface::checked(const BindSpec& bind) const {
  const std::string what = "udp port " + std::to_string(bind.port) + " on " + info_.name;
  if (bind.port == 0) return make_error(EINVAL, "bind " + what + ": port 0 is not supported");
  if (!bind.local.is_any() &&
      std::find(addresses_.begin(), addresses_.end(), bind.local) == addresses_.end())
    return make_error(EADDRNOTAVAIL, "bind " + bind.local.to_string() + " " + what +
                                         ": not an address of the interface");
  if (bind.remote.has_value() && bind.local.is_any())
    return make_error(EINVAL, "connect " + what + " to " + bind.remote->to_string() +
                                  ": a connected socket needs a local address");
  return bind;
}

// Caller holds mutex_. The flow of a reuseport bind joins an existing group.
Status Interface::steer(SlotId slot, const BindSpec& bind, lrp_flow_key* key) {
  *key = flow_key_for(bind);
  if (bind.reuseport && !bind.remote.has_value()) return program_->add_reuseport_member(*key, slot);
  return program_->add_flow(*key, slot);
}

// Caller holds mutex_.
void Interface::unsteer(SlotId slot, const BindSpec& bind, const lrp_flow_key& key) {
  if (bind.reuseport && !bind.remote.has_value()) {
    (void)program_->remove_reuseport_member(key, slot);
  } else {
    (void)program_->remove_flow(key);
  }
}

Result<SlotId> Interface::open_socket(const BindSpec& bind, const SocketOptions& options) {
  std::lock_guard lock(mutex_);
  auto ok = checked(bind);
  if (!ok) return ok.error();
  SlotId slot = 0;
  while (slot < slots_.size() && slots_[slot].open) ++slot;
  if (slot == slots_.size())
    return make_error(EMFILE, "bind udp port " + std::to_string(bind.port) + " on " + info_.name +
                                  ": all " + std::to_string(LRP_MAX_SLOTS) +
                                  " lrp sockets of the interface are in use");
  const Endpoint local{bind.local, bind.port};
  size_t opened = 0;
  Status st;
  for (; opened < engines_.size(); ++opened) {
    st = engines_[opened]->open_socket(slot, local, options);
    if (!st.ok()) break;
  }
  lrp_flow_key key{};
  // Every queue has its socket before the flow exists, so no frame of the
  // flow meets an empty socket map entry.
  if (st.ok()) st = steer(slot, bind, &key);
  if (!st.ok()) {
    for (size_t i = 0; i < opened; ++i) (void)engines_[i]->close_socket(slot);
    return st.error();
  }
  slots_[slot] = SlotState{true, bind, key, {}};
  return slot;
}

Status Interface::close_socket(SlotId slot) {
  std::lock_guard lock(mutex_);
  if (slot >= slots_.size() || !slots_[slot].open)
    return make_error(
        EBADF, "close lrp socket " + std::to_string(slot) + " on " + info_.name + ": not open");
  SlotState& s = slots_[slot];
  for (const IpAddress& g : s.groups) (void)program_->leave_group(g);
  unsteer(slot, s.bind, s.key);
  (void)shed_->clear(slot);
  Status result;
  for (auto& e : engines_) {
    Status st = e->close_socket(slot);
    if (!st.ok() && result.ok()) result = st;
  }
  s = SlotState{};
  return result;
}

Status Interface::rebind_socket(SlotId slot, const BindSpec& bind) {
  std::lock_guard lock(mutex_);
  if (slot >= slots_.size() || !slots_[slot].open)
    return make_error(
        EBADF, "rebind lrp socket " + std::to_string(slot) + " on " + info_.name + ": not open");
  auto ok = checked(bind);
  if (!ok) return ok.error();
  SlotState& s = slots_[slot];
  lrp_flow_key key{};
  LRP_TRY(steer(slot, bind, &key));
  unsteer(slot, s.bind, s.key);
  s.bind = bind;
  s.key = key;
  for (auto& e : engines_) e->rebind(slot, Endpoint{bind.local, bind.port});
  return {};
}

Status Interface::join_group(SlotId slot, const IpAddress& group) {
  std::lock_guard lock(mutex_);
  if (slot >= slots_.size() || !slots_[slot].open)
    return make_error(EBADF, "join group " + group.to_string() + ": lrp socket not open");
  LRP_TRY(program_->join_group(group));
  slots_[slot].groups.push_back(group);
  return {};
}

Status Interface::leave_group(SlotId slot, const IpAddress& group) {
  std::lock_guard lock(mutex_);
  if (slot >= slots_.size() || !slots_[slot].open)
    return make_error(EBADF, "leave group " + group.to_string() + ": lrp socket not open");
  auto& groups = slots_[slot].groups;
  auto it = std::find(groups.begin(), groups.end(), group);
  if (it == groups.end())
    return make_error(EADDRNOTAVAIL, "leave group " + group.to_string() + ": not joined");
  groups.erase(it);
  return program_->leave_group(group);
}

}  // namespace lrp
