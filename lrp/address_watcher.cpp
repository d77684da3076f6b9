#include "lrp/address_watcher.h"

#include <arpa/inet.h>
#include <linux/if_addr.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <array>
#include <cstring>

#include "lrp/xdp_program.h"

namespace lrp {

namespace {

IpAddress v4_from_u32(uint32_t host_order) {
  const uint32_t net = htonl(host_order);
  return IpAddress::from_v4_bytes(reinterpret_cast<const uint8_t*>(&net));
}

uint32_t v4_to_u32(const IpAddress& a) {
  uint32_t net = 0;
  std::memcpy(&net, a.v4_bytes(), 4);
  return ntohl(net);
}

uint32_t attribute_u32(const rtattr* a) {
  uint32_t v = 0;
  if (attribute_length(a) >= sizeof(v)) std::memcpy(&v, attribute_data(a), sizeof(v));
  return v;
}

const uint8_t* address_bytes(const rtattr* a, size_t length) {
  if (a == nullptr || attribute_length(a) != length) return nullptr;
  return static_cast<const uint8_t*>(attribute_data(a));
}

// An RTM_NEWADDR / RTM_DELADDR message: the address, and whether the kernel
// delivers to it. IPv4 takes IFA_LOCAL: on point-to-point links IFA_ADDRESS
// is the peer's. A tentative IPv6 address (duplicate detection still
// running) or one that failed detection receives nothing yet.
struct ParsedAddress {
  int ifindex = 0;
  InterfaceAddress entry;
  bool usable = false;
};

std::optional<ParsedAddress> parse_address(const nlmsghdr& m) {
  const ifaddrmsg* ifa = family_header<ifaddrmsg>(m);
  if (ifa == nullptr) return std::nullopt;
  std::array<const rtattr*, IFA_MAX + 1> attrs{};
  parse_attributes(m, sizeof(ifaddrmsg), attrs);
  const uint32_t flags =
      attrs[IFA_FLAGS] != nullptr ? attribute_u32(attrs[IFA_FLAGS]) : ifa->ifa_flags;
  ParsedAddress p;
  p.ifindex = static_cast<int>(ifa->ifa_index);
  p.entry.prefix_len = ifa->ifa_prefixlen;
  if (ifa->ifa_family == AF_INET) {
    const uint8_t* local = address_bytes(attrs[IFA_LOCAL], 4);
    if (local == nullptr) local = address_bytes(attrs[IFA_ADDRESS], 4);
    if (local == nullptr) return std::nullopt;
    p.entry.address = IpAddress::from_v4_bytes(local);
    if (const uint8_t* b = address_bytes(attrs[IFA_BROADCAST], 4)) {
      const IpAddress broadcast = IpAddress::from_v4_bytes(b);
      if (!broadcast.is_any()) p.entry.broadcast = broadcast;
    }
  } else if (ifa->ifa_family == AF_INET6) {
    const uint8_t* address = address_bytes(attrs[IFA_ADDRESS], 16);
    if (address == nullptr) address = address_bytes(attrs[IFA_LOCAL], 16);
    if (address == nullptr) return std::nullopt;
    p.entry.address = IpAddress::from_v6_bytes(address);
  } else {
    return std::nullopt;
  }
  const bool tentative = (flags & IFA_F_TENTATIVE) != 0 && (flags & IFA_F_OPTIMISTIC) == 0;
  p.usable = !tentative && (flags & IFA_F_DADFAILED) == 0;
  return p;
}

}  // namespace

std::map<IpAddress, uint32_t> host_addresses(const std::vector<InterfaceAddress>& addresses) {
  std::map<IpAddress, uint32_t> out;
  bool any_v4 = false;
  for (const InterfaceAddress& a : addresses) {
    out[a.address] |= AddressFlags::Local;
    if (!a.address.is_v4()) continue;
    any_v4 = true;
    // The kernel adds the subnet's broadcast route itself, IFA_BROADCAST or not.
    if (a.prefix_len < 31) {
      const uint32_t host_bits = a.prefix_len == 0 ? 0xffffffffu : (1u << (32 - a.prefix_len)) - 1;
      out[v4_from_u32(v4_to_u32(a.address) | host_bits)] |= AddressFlags::Broadcast;
    }
    if (a.broadcast.has_value()) out[*a.broadcast] |= AddressFlags::Broadcast;
  }
  if (any_v4) out[v4_from_u32(0xffffffffu)] |= AddressFlags::Broadcast;
  return out;
}

Result<std::unique_ptr<AddressWatcher>> AddressWatcher::start(int ifindex, XdpProgram& program,
                                                              OnChange on_change,
                                                              OnError on_error) {
  std::unique_ptr<AddressWatcher> w(new AddressWatcher());
  w->ifindex_ = ifindex;
  w->program_ = &program;
  w->on_change_ = std::move(on_change);
  w->on_error_ = std::move(on_error);
  // Subscribed before the first dump: a change between the two is then seen.
  auto socket = RtnlSocket::open(RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR);
  if (!socket) return socket.error();
  w->socket_ = std::move(socket.value());
  LRP_TRY(w->resynchronise());
  // An address the map refuses at start is a failure to start.
  LRP_TRY(w->apply());
  w->stop_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (w->stop_fd_ < 0) return errno_error("create an eventfd for the address watcher");
  w->running_ = true;
  w->thread_ = std::thread([p = w.get()] { p->run(); });
  return w;
}

AddressWatcher::~AddressWatcher() {
  if (thread_.joinable()) {
    const uint64_t one = 1;
    (void)!write(stop_fd_, &one, sizeof(one));
    thread_.join();
  }
  if (stop_fd_ >= 0) close(stop_fd_);
}

std::map<IpAddress, uint32_t> AddressWatcher::applied() const {
  std::lock_guard lock(mutex_);
  return applied_;
}

bool AddressWatcher::note(const nlmsghdr& m) {
  if (m.nlmsg_type != RTM_NEWADDR && m.nlmsg_type != RTM_DELADDR) return false;
  auto parsed = parse_address(m);
  if (!parsed || parsed->ifindex != ifindex_) return false;
  const auto key = std::make_pair(parsed->entry.address, parsed->entry.prefix_len);
  if (m.nlmsg_type == RTM_NEWADDR && parsed->usable)
    known_[key] = parsed->entry;
  else
    known_.erase(key);
  return true;
}

// Replaces what we know with a dump; notifications lost during the dump (the
// dump itself can fill the queue) call for another round.
Status AddressWatcher::resynchronise() {
  constexpr int kRounds = 8;
  for (int round = 0; round < kRounds; ++round) {
    known_.clear();
    ifaddrmsg header{};
    header.ifa_family = AF_UNSPEC;
    NetlinkRequest request(RTM_GETADDR, NLM_F_DUMP, header);
    // Notifications during the dump are newer than the dump's earlier
    // answers, so both go through note() in arrival order.
    const auto handle = [this](const nlmsghdr& m) { note(m); };
    LRP_TRY(socket_.transact(
        request, handle, "list the addresses of interface " + std::to_string(ifindex_), handle));
    if (!socket_.take_notifications_lost()) return {};
  }
  return make_error(ENOBUFS, "list the addresses of interface " + std::to_string(ifindex_) +
                                 ": notifications kept overflowing the socket");
}

Status AddressWatcher::apply() {
  std::vector<InterfaceAddress> list;
  for (const auto& [key, entry] : known_) list.push_back(entry);
  const std::map<IpAddress, uint32_t> want = host_addresses(list);
  std::vector<AddressChange> changes;
  Status first_error;
  const auto failed = [&](const Error& e) {
    if (first_error.ok()) first_error = e;
  };
  {
    std::lock_guard lock(mutex_);
    for (auto it = applied_.begin(); it != applied_.end();) {
      if (want.count(it->first) != 0) {
        ++it;
        continue;
      }
      Status st = program_->remove_address(it->first);
      if (!st.ok() && st.error().code != ENOENT) {
        failed(st.error());
        ++it;
        continue;
      }
      changes.push_back({it->first, 0});
      it = applied_.erase(it);
    }
    for (const auto& [address, flags] : want) {
      auto it = applied_.find(address);
      if (it != applied_.end() && it->second == flags) continue;
      Status st = program_->add_address(address, flags);
      if (!st.ok()) {
        failed(st.error());
        continue;
      }
      applied_[address] = flags;
      changes.push_back({address, flags});
    }
  }
  if (on_change_)
    for (const auto& c : changes) on_change_(c);
  return first_error;
}

void AddressWatcher::fail(const Error& error) {
  if (on_error_) on_error_(error);
}

void AddressWatcher::run() {
  for (;;) {
    pollfd fds[2] = {{socket_.fd(), POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      fail(errno_error("watch the addresses of interface " + std::to_string(ifindex_)));
      break;
    }
    if (fds[1].revents != 0) break;
    bool changed = false;
    Status status;
    for (;;) {
      auto got = socket_.receive_pending([&](const nlmsghdr& m) { changed = note(m) || changed; });
      if (got) {
        if (!got.value()) break;
        continue;
      }
      // The kernel dropped notifications when our queue was full: start over.
      if (got.error().code == ENOBUFS) {
        status = resynchronise();
        changed = true;
        if (status.ok()) continue;
      } else {
        status = got.error();
      }
      break;
    }
    if (!status.ok()) {
      fail(status.error());
      break;
    }
    // A full map is reported and the watcher carries on: a later removal
    // may make room, and the next change tries again.
    if (changed) {
      Status applied = apply();
      if (!applied.ok()) fail(applied.error());
    }
  }
  running_ = false;
}

}  // namespace lrp
