#include "sched/runtime/netdev_napi.h"

#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace lrp::sched {

namespace {

// From the kernel's include/uapi/linux/netdev.h (Debian 12's headers
// predate it).
enum : uint8_t { kCmdQueueGet = 10, kCmdNapiGet = 11, kCmdNapiSet = 14 };
enum : uint16_t {
  kNapiIfindex = 1,
  kNapiId = 2,
  kNapiDeferHardIrqs = 5,
  kNapiGroFlushTimeout = 6,
  kNapiIrqSuspendTimeout = 7,
};
enum : uint16_t { kQueueId = 1, kQueueIfindex = 2, kQueueType = 3, kQueueNapiId = 4 };
constexpr uint32_t kQueueTypeRx = 0;

// A generic netlink request: header, genl header, attributes.
class Request {
 public:
  Request(uint16_t family, uint8_t command, uint16_t flags) {
    auto* n = header();
    n->nlmsg_type = family;
    n->nlmsg_flags = static_cast<uint16_t>(NLM_F_REQUEST | flags);
    n->nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN);
    auto* g = static_cast<genlmsghdr*>(NLMSG_DATA(n));
    g->cmd = command;
    g->version = 1;
  }
  void add(uint16_t type, const void* data, size_t length) {
    auto* n = header();
    const size_t at = NLMSG_ALIGN(n->nlmsg_len);
    auto* a = reinterpret_cast<nlattr*>(buffer_.data() + at);
    a->nla_type = type;
    a->nla_len = static_cast<uint16_t>(NLA_HDRLEN + length);
    std::memcpy(reinterpret_cast<uint8_t*>(a) + NLA_HDRLEN, data, length);
    n->nlmsg_len = static_cast<uint32_t>(at + NLA_ALIGN(a->nla_len));
  }
  void add_u32(uint16_t type, uint32_t v) { add(type, &v, sizeof(v)); }
  void add_u64(uint16_t type, uint64_t v) { add(type, &v, sizeof(v)); }
  void add_string(uint16_t type, const char* s) { add(type, s, std::strlen(s) + 1); }
  nlmsghdr* header() { return reinterpret_cast<nlmsghdr*>(buffer_.data()); }

 private:
  alignas(nlmsghdr) std::array<uint8_t, 256> buffer_{};
};

// Attributes after the genl header, by type (types beyond the table skipped).
template <size_t N>
std::array<const nlattr*, N> attributes(const nlmsghdr& m) {
  std::array<const nlattr*, N> table{};
  const auto* base = static_cast<const uint8_t*>(NLMSG_DATA(&m));
  size_t offset = GENL_HDRLEN;
  const size_t end = m.nlmsg_len - NLMSG_HDRLEN;
  while (offset + NLA_HDRLEN <= end) {
    const auto* a = reinterpret_cast<const nlattr*>(base + offset);
    if (a->nla_len < NLA_HDRLEN || offset + a->nla_len > end) break;
    const uint16_t type = a->nla_type & NLA_TYPE_MASK;
    if (type < N) table[type] = a;
    offset += NLA_ALIGN(a->nla_len);
  }
  return table;
}

// An unsigned attribute of 1, 2, 4 or 8 bytes (the kernel's "uint" type
// sends 4 or 8).
uint64_t unsigned_value(const nlattr* a) {
  const uint8_t* d = reinterpret_cast<const uint8_t*>(a) + NLA_HDRLEN;
  switch (a->nla_len - NLA_HDRLEN) {
    case 1:
      return *d;
    case 2: {
      uint16_t v;
      std::memcpy(&v, d, 2);
      return v;
    }
    case 4: {
      uint32_t v;
      std::memcpy(&v, d, 4);
      return v;
    }
    case 8: {
      uint64_t v;
      std::memcpy(&v, d, 8);
      return v;
    }
  }
  return 0;
}

}  // namespace

NetdevNetlink::NetdevNetlink(NetdevNetlink&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), family_(other.family_), sequence_(other.sequence_) {}

NetdevNetlink& NetdevNetlink::operator=(NetdevNetlink&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    family_ = other.family_;
    sequence_ = other.sequence_;
  }
  return *this;
}

NetdevNetlink::~NetdevNetlink() {
  if (fd_ >= 0) close(fd_);
}

template <class OnReply>
Status NetdevNetlink::transact(void* request, size_t length, OnReply&& on_reply, const char* what) {
  auto* n = static_cast<nlmsghdr*>(request);
  n->nlmsg_seq = ++sequence_;
  const bool dump = (n->nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP;
  if (!dump) n->nlmsg_flags |= NLM_F_ACK;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (sendto(fd_, request, length, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof(kernel)) < 0)
    return errno_error(what);
  std::vector<uint8_t> buffer(64 * 1024);
  for (;;) {
    const ssize_t got = recv(fd_, buffer.data(), buffer.size(), 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      return errno_error(what);
    }
    size_t offset = 0;
    while (offset + sizeof(nlmsghdr) <= static_cast<size_t>(got)) {
      const auto* h = reinterpret_cast<const nlmsghdr*>(buffer.data() + offset);
      if (h->nlmsg_len < sizeof(nlmsghdr) || offset + h->nlmsg_len > static_cast<size_t>(got))
        break;
      offset += NLMSG_ALIGN(h->nlmsg_len);
      if (h->nlmsg_seq != sequence_) continue;
      if (h->nlmsg_type == NLMSG_DONE) return {};
      if (h->nlmsg_type == NLMSG_ERROR) {
        int error = 0;
        if (h->nlmsg_len >= NLMSG_LENGTH(sizeof(nlmsgerr)))
          error = static_cast<const nlmsgerr*>(NLMSG_DATA(h))->error;
        if (error == 0) return {};
        return make_error(-error, what);
      }
      on_reply(*h);
    }
  }
}

Result<NetdevNetlink> NetdevNetlink::open() {
  const int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
  if (fd < 0) return errno_error("open a generic netlink socket");
  // The kernel answers within the request; a silent kernel must not hang us.
  timeval tv{2, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  NetdevNetlink nl(fd, GENL_ID_CTRL);
  Request r(GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 0);
  r.add_string(CTRL_ATTR_FAMILY_NAME, "netdev");
  std::optional<uint16_t> family;
  Status st = nl.transact(
      r.header(), r.header()->nlmsg_len,
      [&](const nlmsghdr& m) {
        auto a = attributes<CTRL_ATTR_FAMILY_ID + 1>(m);
        if (a[CTRL_ATTR_FAMILY_ID] != nullptr)
          family = static_cast<uint16_t>(unsigned_value(a[CTRL_ATTR_FAMILY_ID]));
      },
      "look up the netdev netlink family");
  if (!st.ok()) return st.error();
  if (!family) return make_error(ENOENT, "the kernel has no netdev netlink family");
  nl.family_ = *family;
  return nl;
}

Result<uint32_t> NetdevNetlink::queue_napi(int ifindex, uint32_t queue) {
  Request r(family_, kCmdQueueGet, 0);
  r.add_u32(kQueueIfindex, static_cast<uint32_t>(ifindex));
  r.add_u32(kQueueType, kQueueTypeRx);
  r.add_u32(kQueueId, queue);
  uint32_t napi = 0;
  const std::string what = "netdev queue-get (ifindex " + std::to_string(ifindex) + ", rx queue " +
                           std::to_string(queue) + ")";
  Status st = transact(
      r.header(), r.header()->nlmsg_len,
      [&](const nlmsghdr& m) {
        auto a = attributes<kQueueNapiId + 1>(m);
        if (a[kQueueNapiId] != nullptr)
          napi = static_cast<uint32_t>(unsigned_value(a[kQueueNapiId]));
      },
      what.c_str());
  if (!st.ok()) return st.error();
  return napi;
}

Result<NapiSettings> NetdevNetlink::napi(uint32_t napi_id) {
  Request r(family_, kCmdNapiGet, 0);
  r.add_u32(kNapiId, napi_id);
  NapiSettings s;
  const std::string what = "netdev napi-get (NAPI " + std::to_string(napi_id) + ")";
  Status st = transact(
      r.header(), r.header()->nlmsg_len,
      [&](const nlmsghdr& m) {
        auto a = attributes<kNapiIrqSuspendTimeout + 1>(m);
        if (a[kNapiDeferHardIrqs] != nullptr)
          s.defer_hard_irqs = static_cast<uint32_t>(unsigned_value(a[kNapiDeferHardIrqs]));
        if (a[kNapiGroFlushTimeout] != nullptr)
          s.gro_flush_timeout_ns = unsigned_value(a[kNapiGroFlushTimeout]);
        if (a[kNapiIrqSuspendTimeout] != nullptr) {
          s.irq_suspend_timeout_ns = unsigned_value(a[kNapiIrqSuspendTimeout]);
          s.has_irq_suspend = true;
        }
      },
      what.c_str());
  if (!st.ok()) return st.error();
  return s;
}

Status NetdevNetlink::set_napi(uint32_t napi_id, const NapiSettings& s, bool with_irq_suspend) {
  Request r(family_, kCmdNapiSet, 0);
  r.add_u32(kNapiId, napi_id);
  r.add_u32(kNapiDeferHardIrqs, s.defer_hard_irqs);
  r.add_u64(kNapiGroFlushTimeout, s.gro_flush_timeout_ns);
  if (with_irq_suspend) r.add_u64(kNapiIrqSuspendTimeout, s.irq_suspend_timeout_ns);
  const std::string what = "netdev napi-set (NAPI " + std::to_string(napi_id) + ")";
  return transact(
      r.header(), r.header()->nlmsg_len, [](const nlmsghdr&) {}, what.c_str());
}

}  // namespace lrp::sched
