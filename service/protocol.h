// lrpd's wire format and shared-memory layout: the one definition both the
// daemon and its clients compile against, the way bpf/lrp_shared.h is for
// the XDP program.
//
// Control plane: a SOCK_SEQPACKET Unix socket (default /run/lrp/lrpd.sock,
// LRP_SOCKET or --socket to change it, mode 0666: the kernel socket a client
// passes is its proof of port ownership, so any user may attach). One
// message = one record = MsgHeader + the type's body; file descriptors travel
// as SCM_RIGHTS beside it. Every request gets exactly one reply (a query gets
// its records and then QueryEnd), carrying the request's seq; failures are
// ErrorReply with an errno. Peers identify themselves by SO_PEERCRED.
//
// Data plane: per application a memfd region, mapped MAP_SHARED by lrpd and
// by every client process of the application (fork children inherit it):
// RegionHeader, then the RX ring (lrpd -> application), then the TX ring
// (application -> lrpd). Each ring is a bounded multi-producer multi-consumer
// queue of fixed-size entries (EntryHeader + payload slot sized from the
// largest MTU lrpd serves). The doorbell is a stream socketpair: lrpd keeps
// one end, the application the other; a byte in either direction wakes the
// other side, and only when the other side said it sleeps ("waiting" flags in
// the ring headers). A socketpair, not an eventfd, because lrpd writes with
// MSG_DONTWAIT, which a client cannot turn into a blocking write.
//
// Fixed-width fields, explicit padding, sizes pinned by static_assert.
// Addresses are 16 bytes, IPv4 mapped (::ffff:a.b.c.d); ports and all
// integers in host byte order (both ends are on one host).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace lrp::service {

// ---------------------------------------------------------------- wire ----

inline constexpr uint32_t kWireMagic = 0x4450524c;  // "LRPD" in memory order
inline constexpr uint16_t kWireVersion = 1;
inline constexpr const char* kDefaultSocketPath = "/run/lrp/lrpd.sock";
inline constexpr const char* kSocketEnv = "LRP_SOCKET";
// Largest control message; replies to queries are several messages.
inline constexpr size_t kMaxMessage = 1024;
inline constexpr size_t kNameLen = 32;      // NUL-padded, not necessarily terminated
inline constexpr size_t kIfNameLen = 16;    // IFNAMSIZ
inline constexpr size_t kMessageLen = 200;  // error text
inline constexpr uint32_t kMaxFdsPerMessage = 2;

enum class MsgType : uint16_t {
  // client -> lrpd
  Hello = 1,     // HelloRequest; first message of every connection
  CreateApp,     // CreateAppRequest -> AppGrant (+ region memfd, doorbell)
  JoinApp,       // JoinAppRequest -> AppGrant (+ fds): fork children, other processes
  Bind,          // BindRequest + the kernel UDP socket -> SocketReply
  Connect,       // SocketRequest: the kernel socket was connect()ed -> SocketReply
  CloseSocket,   // SocketRequest -> Ok
  SetOption,     // SetOptionRequest -> Ok
  JoinGroup,     // GroupRequest -> Ok
  LeaveGroup,    // GroupRequest -> Ok
  QueryStatus,   // no body -> DaemonStatus, EngineStatus..., QueryEnd
  QueryApps,     // no body -> AppStatus..., QueryEnd
  QuerySockets,  // no body -> SocketStatus..., QueryEnd
  LeaveApp,      // SocketRequest with the application id: this connection lets go -> Ok
  // lrpd -> client
  HelloReply = 64,
  AppGrantReply,
  SocketReply,
  Ok,
  Error,
  DaemonStatusRecord,
  EngineStatusRecord,
  AppStatusRecord,
  SocketStatusRecord,
  QueryEnd,
};

struct MsgHeader {
  uint32_t magic;    // kWireMagic
  uint16_t version;  // kWireVersion
  uint16_t type;     // MsgType
  uint32_t size;     // whole message, header included
  uint32_t seq;      // chosen by the client, echoed in the reply
};
static_assert(sizeof(MsgHeader) == 16);

struct HelloRequest {
  char name[kNameLen];  // the program, for lrpctl and metrics labels
  uint32_t weight;      // default weight of its applications (0: 1)
  uint32_t pid;         // informational; lrpd believes SO_PEERCRED
  uint32_t flags;       // none defined: 0
  uint32_t pad;
};
static_assert(sizeof(HelloRequest) == 48);

struct HelloReply {
  uint32_t session_id;  // nonzero; the owner tag this process writes into ring entries
  uint32_t daemon_pid;
  uint64_t daemon_epoch;  // lrpd's start time (CLOCK_REALTIME ns): tells restarts apart
  uint32_t max_payload;   // largest UDP payload lrpd can carry (from the MTU)
  uint32_t interfaces;    // how many interfaces lrpd serves
};
static_assert(sizeof(HelloReply) == 24);

struct CreateAppRequest {
  char name[kNameLen];   // empty: the session's name
  uint32_t weight;       // 0: the session's weight
  uint32_t queue_bound;  // delivered, not yet read datagrams (0: default)
  uint32_t held_cap;     // frames lrpd's engine may hold for it at once (0: default)
  uint32_t rx_entries;   // RX ring size, rounded up to a power of two (0: default)
  uint32_t tx_entries;   // TX ring size (0: default)
  uint32_t pad;
};
static_assert(sizeof(CreateAppRequest) == 56);

struct JoinAppRequest {
  uint32_t app_id;
  uint32_t pad;
  uint64_t secret;  // from the AppGrant the creator received
};
static_assert(sizeof(JoinAppRequest) == 16);

// The right to use an application. Sent with two fds: the region's memfd and
// the client's end of the doorbell socketpair.
struct AppGrant {
  uint32_t app_id;
  uint32_t pad;
  uint64_t secret;       // lets another connection (a fork child) join
  uint64_t region_size;  // bytes to map
};
static_assert(sizeof(AppGrant) == 24);

enum BindFlags : uint32_t {
  kBindNone = 0,
};

struct BindRequest {
  uint32_t app_id;
  uint32_t flags;  // BindFlags
};
static_assert(sizeof(BindRequest) == 8);

struct SocketRequest {
  uint32_t socket_id;
  uint32_t pad;
};
static_assert(sizeof(SocketRequest) == 8);

enum SocketFlags : uint32_t {
  kSocketJoined = 1u << 0,      // the kernel socket was already served: joined that socket
  kSocketAppGranted = 1u << 1,  // grant is valid and its fds are attached
  kSocketConnected = 1u << 2,   // an exact 5-tuple flow
  kSocketReusePort = 1u << 3,   // SO_REUSEPORT: a member of the port's group
  kSocketDualStack = 1u << 4,   // IPv6 wildcard without IPV6_V6ONLY: IPv4 too
  kSocketDevice = 1u << 5,      // SO_BINDTODEVICE: one interface only
};

struct SocketReply {
  uint32_t socket_id;
  uint32_t app_id;  // the application the socket belongs to (may differ from the request's)
  uint32_t flags;   // SocketFlags
  uint8_t family;   // 4 or 6
  uint8_t pad0[3];
  uint8_t local_addr[16];
  uint8_t remote_addr[16];
  uint16_t local_port;
  uint16_t remote_port;
  uint32_t pad1;
  uint64_t inode;  // the kernel socket's inode: its identity
  AppGrant grant;  // when kSocketAppGranted
};
static_assert(sizeof(SocketReply) == 88);

enum class OptionName : uint16_t {
  AppWeight = 1,      // target: application id; 1..10000
  AppQueueBound = 2,  // target: application id; 1..RX ring size
};

struct SetOptionRequest {
  uint32_t target;
  uint16_t option;  // OptionName
  uint16_t pad;
  int64_t value;
};
static_assert(sizeof(SetOptionRequest) == 16);

struct GroupRequest {
  uint32_t socket_id;
  uint32_t pad;
  uint8_t group[16];  // multicast group address
};
static_assert(sizeof(GroupRequest) == 24);

struct ErrorReply {
  int32_t error;          // errno value
  uint16_t request_type;  // MsgType of the request that failed
  uint16_t pad;
  char message[kMessageLen];  // NUL-terminated
};
static_assert(sizeof(ErrorReply) == 208);

// --- query records (lrpctl) ---

struct DaemonStatus {
  uint32_t pid;
  uint32_t sessions;
  uint32_t apps;
  uint32_t sockets;
  uint64_t epoch;        // start time, CLOCK_REALTIME ns
  uint64_t tx_rejected;  // transmit entries refused for spoofing, all applications
  uint32_t engines;
  uint32_t max_payload;
};
static_assert(sizeof(DaemonStatus) == 40);

enum class EngineModeCode : uint8_t { Interrupt = 0, Poll = 1, Adaptive = 2, Eager = 3 };

struct EngineStatus {
  char ifname[kIfNameLen];
  uint32_t ifindex;
  uint32_t queue;
  int32_t cpu;      // -1: not pinned
  uint8_t mode;     // EngineModeCode
  uint8_t polling;  // currently polling (1) or sleeping between interrupts (0)
  uint8_t pad[2];
  uint64_t passes;
  uint64_t empty_passes;
  uint64_t wakeups;
  uint64_t sleeps;
  uint64_t switches_to_poll;
  uint64_t switches_to_interrupt;
  uint64_t idle_poll_ns;
  uint64_t engine_cpu_ns;
  uint64_t fill_ring;        // frames in the fill ring now
  uint32_t frames_total;     // UMEM frames of the queue
  uint32_t frames_held;      // held by lrpd between receive and copy, or built for transmit
  uint8_t frames_accounted;  // every frame in exactly one place (exact when no traffic flows)
  uint8_t pad1[7];
  uint64_t frame_violations;  // moves that did not match a frame's place (stays 0)
  uint64_t delivered;         // datagrams this queue's engine delivered, all applications
};
static_assert(sizeof(EngineStatus) == 136);

enum DropIndex : uint32_t {
  kDropRingFull = 0,  // the application's RX ring had no room at delivery
  kDropShed,          // dropped at XDP by the shed flag
  kDropKernelRing,    // the AF_XDP RX ring was full (kernel tail drop)
  kDropInvalid,       // failed protocol checks
  kDropCount,
};

struct AppStatus {
  uint32_t app_id;
  uint32_t pid;  // of the session that created it
  uint32_t uid;
  uint32_t sessions;  // connections attached to it (fork children, other processes)
  char name[kNameLen];
  uint32_t weight;
  uint32_t queue_bound;
  uint32_t rx_entries;
  uint32_t rx_depth;  // entries in the RX ring now
  uint32_t sockets;
  uint32_t pad;
  uint64_t delivered;  // into its RX ring
  uint64_t drops[kDropCount];
  uint64_t charged_ns;  // protocol CPU charged to it
  uint64_t tx_sent;
  uint64_t tx_rejected;   // not from one of its bindings: EPERM
  uint64_t tx_dropped;    // malformed entries, or the device's ring stayed full
  uint64_t skipped_full;  // engine passes that skipped it for lack of room
  uint64_t reserved;
};
static_assert(sizeof(AppStatus) == 160);

struct SocketStatus {
  uint32_t socket_id;
  uint32_t app_id;
  uint32_t flags;  // SocketFlags
  uint32_t refs;   // sessions holding it
  uint8_t family;
  uint8_t pad0[3];
  char ifname[kIfNameLen];  // SO_BINDTODEVICE, or empty: every served interface
  uint8_t local_addr[16];
  uint8_t remote_addr[16];
  uint16_t local_port;
  uint16_t remote_port;
  uint32_t pad1;
  uint64_t inode;
  uint64_t delivered;
  uint64_t delivered_bytes;
  uint64_t invalid;
  uint64_t sent;
  uint64_t tx_rejected;
  uint64_t rx_ring_full;  // kernel AF_XDP ring full, summed over queues
};
static_assert(sizeof(SocketStatus) == 136);

struct QueryEndReply {
  uint32_t records;
  uint32_t pad;
};
static_assert(sizeof(QueryEndReply) == 8);

// ------------------------------------------------------- shared memory ----

inline constexpr uint32_t kRegionMagic = 0x4d48534c;  // "LSHM"
inline constexpr uint16_t kRegionVersion = 1;
inline constexpr uint32_t kCacheLine = 64;
inline constexpr uint32_t kDefaultRxEntries = 1024;
inline constexpr uint32_t kDefaultTxEntries = 512;
inline constexpr uint32_t kMaxRingEntries = 1u << 16;

static_assert(std::atomic<uint64_t>::is_always_lock_free, "ring positions must be address-free");
static_assert(std::atomic<uint32_t>::is_always_lock_free, "flags must be address-free");

enum class RegionState : uint32_t {
  Attached = 1,  // lrpd serves the application
  Detached = 2,  // lrpd removed the application (all its connections closed)
  Stopped = 3,   // lrpd stopped
};

// Both ends of a ring keep a waiting flag: a consumer that found the ring
// empty sets consumer_waiting before it sleeps, a producer that found it
// full sets producer_waiting. The other side clears the flag and rings the
// doorbell; without the flag set, no system call is made.
struct alignas(kCacheLine) RingHeader {
  std::atomic<uint64_t> head;      // next position consumers take
  std::atomic<uint64_t> released;  // entries consumers handed back (tail - released = in use)
  uint8_t pad_head[48];
  std::atomic<uint64_t> tail;  // next position producers fill
  uint8_t pad_tail[56];
  std::atomic<uint32_t> consumer_waiting;
  std::atomic<uint32_t> producer_waiting;
  uint32_t entries;  // copy of the geometry, for clients (lrpd keeps its own)
  uint32_t pad;
  uint8_t pad_flags[48];
};
static_assert(sizeof(RingHeader) == 3 * kCacheLine);

enum EntryFlags : uint8_t {
  kEntryTruncated =
      1u << 0,  // RX: the datagram did not fit the slot; datagram_length says how long
  kEntryHasSource = 1u << 1,  // TX: src_addr chooses the source address (wildcard-bound sockets)
  kEntryAbandoned = 1u << 2,  // TX: its producer died mid-write; lrpd skips it
};

// One ring entry: this header, then `slot_payload` bytes of payload.
// seq is the ring's per-entry sequence (see service/shm/ring.h); owner is
// the session id of the client process holding the entry between claim and
// release (0 otherwise), so lrpd can release what a dead process held.
struct alignas(kCacheLine) EntryHeader {
  std::atomic<uint64_t> seq;
  uint64_t time_ns;  // RX: receive time, CLOCK_REALTIME
  uint32_t socket_id;
  uint32_t length;           // payload bytes in the slot
  uint32_t datagram_length;  // RX: the datagram's full payload length
  std::atomic<uint32_t> owner;
  uint8_t src_addr[16];  // RX: the sender. TX: the source (kEntryHasSource)
  uint8_t dst_addr[16];  // RX: the local address it was sent to. TX: the destination
  uint16_t src_port;     // TX: 0 or the socket's own port, anything else is EPERM
  uint16_t dst_port;
  uint8_t family;  // 4 or 6
  uint8_t tos;     // RX: IP TOS / traffic class (0 when not known)
  uint8_t ttl;     // RX: TTL / hop limit (0 when not known)
  uint8_t flags;   // EntryFlags
  uint16_t queue;  // RX: the receive queue it came in on
  uint16_t pad0;
  uint32_t ifindex;  // RX: the interface it came in on
  uint8_t reserved[48];
};
static_assert(sizeof(EntryHeader) == 128);
static_assert(offsetof(EntryHeader, src_addr) == 32);
static_assert(offsetof(EntryHeader, family) == 68);

// The first page of a region.
struct alignas(kCacheLine) RegionHeader {
  uint32_t magic;  // kRegionMagic
  uint16_t version;
  uint16_t header_size;  // sizeof(RegionHeader)
  uint64_t region_size;
  uint32_t app_id;
  uint32_t slot_payload;  // payload bytes per entry
  uint32_t entry_size;    // sizeof(EntryHeader) + slot_payload, a multiple of kCacheLine
  uint32_t rx_entries;    // powers of two
  uint32_t tx_entries;
  uint32_t pad0;
  uint64_t rx_ring_offset;  // RingHeader, then rx_entries entries
  uint64_t tx_ring_offset;
  uint64_t daemon_epoch;  // HelloReply::daemon_epoch of the lrpd that made it
  alignas(kCacheLine) std::atomic<uint32_t> state;  // RegionState
  uint32_t pad1;
  std::atomic<uint64_t> heartbeat_ns;  // CLOCK_MONOTONIC, refreshed by lrpd about every 100 ms
  // Informational counters lrpd keeps for the application (authoritative
  // copies live in lrpd; an application that overwrites these only fools itself).
  std::atomic<uint64_t> rx_ring_full;
  std::atomic<uint64_t> tx_rejected;
  std::atomic<uint64_t> tx_dropped;
  uint8_t reserved[24];
  RingHeader rx;  // lrpd produces, the application's processes consume
  RingHeader tx;  // the application's processes produce, lrpd consumes
};
static_assert(sizeof(RegionHeader) == 2 * kCacheLine + 2 * sizeof(RingHeader));
static_assert(offsetof(RegionHeader, state) == kCacheLine);
static_assert(offsetof(RegionHeader, rx) == 2 * kCacheLine);

// Geometry of a region: the same function on both sides.
struct RegionGeometry {
  uint32_t slot_payload = 0;
  uint32_t entry_size = 0;
  uint32_t rx_entries = 0;
  uint32_t tx_entries = 0;
  uint64_t rx_offset = 0;  // first RX entry
  uint64_t tx_offset = 0;  // first TX entry
  uint64_t size = 0;       // whole region, page-rounded
};

// Payload a slot needs for an MTU: the largest IPv4 UDP payload.
constexpr uint32_t slot_payload_for_mtu(uint32_t mtu) {
  return mtu > 28 ? mtu - 28 : 0;
}

constexpr uint32_t round_up(uint64_t v, uint32_t to) {
  return static_cast<uint32_t>((v + to - 1) / to * to);
}

// Entries must be powers of two in 2..kMaxRingEntries; payload below 64 KiB.
constexpr bool region_geometry(uint32_t slot_payload, uint32_t rx_entries, uint32_t tx_entries,
                               RegionGeometry* g) {
  auto pow2 = [](uint32_t n) { return n >= 2 && n <= kMaxRingEntries && (n & (n - 1)) == 0; };
  if (!pow2(rx_entries) || !pow2(tx_entries) || slot_payload == 0 || slot_payload > 65535)
    return false;
  g->slot_payload = slot_payload;
  g->entry_size = round_up(sizeof(EntryHeader) + uint64_t{slot_payload}, kCacheLine);
  g->rx_entries = rx_entries;
  g->tx_entries = tx_entries;
  g->rx_offset = sizeof(RegionHeader);
  g->tx_offset = g->rx_offset + uint64_t{g->entry_size} * rx_entries;
  const uint64_t end = g->tx_offset + uint64_t{g->entry_size} * tx_entries;
  g->size = (end + 4095) / 4096 * 4096;
  return true;
}

}  // namespace lrp::service
