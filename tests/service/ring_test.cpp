// The shared-memory ring: semantics, zero-copy holds, exactly-once delivery
// under threads and processes, and that corrupt or stalled state never
// hangs or crashes lrpd's side.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include "service/shm/region.h"

namespace lrp::service {
namespace {

std::unique_ptr<Region> make_region(uint32_t rx, uint32_t tx, uint32_t payload = 64) {
  RegionGeometry g;
  EXPECT_TRUE(region_geometry(payload, rx, tx, &g));
  auto r = Region::create(1, g, 123);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message());
  return std::move(r.value());
}

bool produce(Ring& ring, uint64_t value, uint32_t owner = 0) {
  RingSlot s;
  if (!ring.claim_produce(&s, owner)) return false;
  std::memcpy(s.payload, &value, sizeof(value));
  s.entry->length = sizeof(value);
  ring.publish(s);
  return true;
}

bool consume(Ring& ring, uint64_t* value, uint32_t owner = 0) {
  RingSlot s;
  if (!ring.claim_consume(&s, owner)) return false;
  std::memcpy(value, s.payload, sizeof(*value));
  ring.release(s);
  return true;
}

TEST(RegionGeometry, SizesFollowTheMtu) {
  RegionGeometry g;
  ASSERT_TRUE(region_geometry(slot_payload_for_mtu(1500), 1024, 512, &g));
  EXPECT_EQ(g.slot_payload, 1472u);
  EXPECT_EQ(g.entry_size % kCacheLine, 0u);
  EXPECT_GE(g.entry_size, sizeof(EntryHeader) + 1472);
  EXPECT_EQ(g.rx_offset, sizeof(RegionHeader));
  EXPECT_EQ(g.tx_offset, g.rx_offset + uint64_t{g.entry_size} * 1024);
  EXPECT_EQ(g.size % 4096, 0u);
  EXPECT_FALSE(region_geometry(1472, 1000, 512, &g));  // not a power of two
  EXPECT_FALSE(region_geometry(1472, 1024, 1, &g));
  EXPECT_FALSE(region_geometry(0, 1024, 512, &g));
}

TEST(Ring, FillsToCapacityThenRefuses) {
  auto r = make_region(8, 8);
  Ring& rx = r->rx();
  for (uint64_t i = 0; i < 8; ++i) ASSERT_TRUE(produce(rx, i));
  EXPECT_FALSE(produce(rx, 99));
  EXPECT_EQ(rx.occupancy(), 8u);
  for (uint64_t i = 0; i < 8; ++i) {
    uint64_t v = 0;
    ASSERT_TRUE(consume(rx, &v));
    EXPECT_EQ(v, i);  // FIFO with one producer and one consumer
  }
  uint64_t v;
  EXPECT_FALSE(consume(rx, &v));
  EXPECT_EQ(rx.occupancy(), 0u);
  // Wraps around many laps.
  for (uint64_t i = 0; i < 1000; ++i) {
    ASSERT_TRUE(produce(rx, i));
    ASSERT_TRUE(consume(rx, &v));
    ASSERT_EQ(v, i);
  }
}

TEST(Ring, AHeldViewBlocksOnlyItsOwnSlot) {
  auto r = make_region(4, 4);
  Ring& rx = r->rx();
  for (uint64_t i = 0; i < 4; ++i) ASSERT_TRUE(produce(rx, i));
  RingSlot held;
  ASSERT_TRUE(rx.claim_consume(&held, 5));
  // Other consumers go past the held entry.
  uint64_t v;
  ASSERT_TRUE(consume(rx, &v));
  EXPECT_EQ(v, 1u);
  // The producer reaches the held entry's slot on the next lap and stops
  // there, although another slot is free: the ring is in order.
  EXPECT_EQ(rx.occupancy(), 3u);
  EXPECT_FALSE(rx.writable());
  EXPECT_FALSE(produce(rx, 10));
  rx.release(held);
  EXPECT_TRUE(rx.writable());
  EXPECT_TRUE(produce(rx, 10));
  EXPECT_TRUE(produce(rx, 11));
  EXPECT_FALSE(produce(rx, 12));
}

TEST(Ring, WaitingFlagsAreTakenOnce) {
  auto r = make_region(4, 4);
  Ring& rx = r->rx();
  EXPECT_FALSE(rx.take_consumer_waiting());
  rx.set_consumer_waiting();
  EXPECT_TRUE(rx.take_consumer_waiting());
  EXPECT_FALSE(rx.take_consumer_waiting());
  rx.set_producer_waiting();
  EXPECT_TRUE(rx.take_producer_waiting());
  EXPECT_FALSE(rx.take_producer_waiting());
}

TEST(Ring, DeadConsumersClaimsAreReleased) {
  auto r = make_region(4, 4);
  Ring& rx = r->rx();
  for (uint64_t i = 0; i < 4; ++i) ASSERT_TRUE(produce(rx, i));
  RingSlot dead1, dead2, live, untagged;
  ASSERT_TRUE(rx.claim_consume(&dead1, 42));
  ASSERT_TRUE(rx.claim_consume(&live, 43));
  ASSERT_TRUE(rx.claim_consume(&dead2, 42));
  ASSERT_TRUE(rx.claim_consume(&untagged, 0));
  EXPECT_EQ(rx.reclaim_consumer_claims(42), 2u);
  EXPECT_EQ(rx.reclaim_consumer_claims(42), 0u);  // nothing twice
  EXPECT_TRUE(produce(rx, 7));                    // dead1's slot is free again
  EXPECT_FALSE(produce(rx, 8));                   // live's slot is still held
  rx.release(live);
  EXPECT_TRUE(produce(rx, 8));
  EXPECT_TRUE(produce(rx, 9));    // dead2's slot
  EXPECT_FALSE(produce(rx, 10));  // an untagged claim is never taken from its holder
  rx.release(untagged);
  EXPECT_TRUE(produce(rx, 10));
}

TEST(Ring, DeadProducersClaimsAreSkipped) {
  auto r = make_region(4, 4);
  Ring& tx = r->tx();
  RingSlot dead;
  ASSERT_TRUE(tx.claim_produce(&dead, 9));
  ASSERT_TRUE(produce(tx, 5, 10));
  uint64_t v;
  EXPECT_FALSE(consume(tx, &v));  // the unpublished entry is at the head
  EXPECT_EQ(tx.reclaim_producer_claims(9), 1u);
  RingSlot s;
  ASSERT_TRUE(tx.claim_consume(&s, 0));
  EXPECT_NE(s.entry->flags & kEntryAbandoned, 0);
  EXPECT_EQ(s.entry->length, 0u);
  tx.release(s);
  ASSERT_TRUE(consume(tx, &v));
  EXPECT_EQ(v, 5u);
}

// Whatever an application writes into the region, lrpd's calls return in
// bounded time and touch only the ring's own memory.
TEST(Ring, CorruptStateIsBoundedForTheDaemon) {
  auto r = make_region(16, 16);
  std::mt19937_64 rng(7);
  uint8_t* base = reinterpret_cast<uint8_t*>(&r->header());
  for (int round = 0; round < 2000; ++round) {
    // Scribble over ring headers and entries (not the geometry: lrpd never reads it back).
    for (int i = 0; i < 32; ++i) {
      const size_t off = 2 * kCacheLine + rng() % (r->geometry().size - 2 * kCacheLine);
      base[off] = static_cast<uint8_t>(rng());
    }
    if (round % 7 == 0) r->header().rx.tail.store(rng());
    if (round % 11 == 0) r->header().tx.head.store(rng());
    const auto t0 = std::chrono::steady_clock::now();
    RingSlot s;
    if (r->rx().claim_produce(&s, 0)) {
      std::memset(s.payload, 0xab, r->rx().slot_payload());
      r->rx().publish(s);
    }
    if (r->tx().claim_consume(&s, 0)) r->tx().release(s);
    (void)r->rx().occupancy();
    (void)r->rx().readable();
    (void)r->rx().reclaim_consumer_claims(1);
    (void)r->tx().reclaim_producer_claims(1);
    ASSERT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(1));
  }
}

// Several producer threads and several consumer threads: every value is
// taken exactly once.
TEST(Ring, ThreadsTakeEachDatagramExactlyOnce) {
  constexpr int kProducers = 3, kConsumers = 3;
  constexpr uint64_t kPer = 200000;
  auto r = make_region(256, 4);
  Ring& rx = r->rx();
  std::vector<std::atomic<uint8_t>> seen(kProducers * kPer);
  std::atomic<uint64_t> consumed{0};
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  std::vector<std::thread> threads;
  for (int p = 0; p < kProducers; ++p)
    threads.emplace_back([&, p] {
      for (uint64_t i = 0; i < kPer && std::chrono::steady_clock::now() < deadline;) {
        if (produce(rx, p * kPer + i)) {
          ++i;
        } else {
          std::this_thread::yield();
        }
      }
    });
  for (int c = 0; c < kConsumers; ++c)
    threads.emplace_back([&] {
      while (consumed.load() < kProducers * kPer && std::chrono::steady_clock::now() < deadline) {
        uint64_t v;
        if (consume(rx, &v, 1)) {
          if (v < seen.size()) seen[v].fetch_add(1);
          consumed.fetch_add(1);
        } else {
          std::this_thread::yield();
        }
      }
    });
  for (auto& t : threads) t.join();
  ASSERT_EQ(consumed.load(), kProducers * kPer);
  for (size_t i = 0; i < seen.size(); ++i) ASSERT_EQ(seen[i].load(), 1) << "value " << i;
}

// fork children share the mapping: producer processes and consumer
// processes, every value taken exactly once.
TEST(Ring, ProcessesTakeEachDatagramExactlyOnce) {
  constexpr int kProducers = 2, kConsumers = 3;
  constexpr uint64_t kPer = 100000;
  constexpr uint64_t kTotal = kProducers * kPer;
  auto r = make_region(128, 4);
  Ring& rx = r->rx();
  // Shared with the children: how often each value was taken, and the total.
  const size_t bytes = sizeof(std::atomic<uint64_t>) + kTotal;
  void* mem = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(mem, MAP_FAILED);
  auto* consumed = new (mem) std::atomic<uint64_t>(0);
  auto* seen =
      reinterpret_cast<std::atomic<uint8_t>*>(static_cast<uint8_t*>(mem) + sizeof(*consumed));
  std::vector<pid_t> children;
  for (int c = 0; c < kConsumers; ++c) {
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
      while (consumed->load() < kTotal && std::chrono::steady_clock::now() < deadline) {
        uint64_t v;
        if (consume(rx, &v, 100 + c)) {
          if (v < kTotal) seen[v].fetch_add(1);
          consumed->fetch_add(1);
        } else {
          sched_yield();
        }
      }
      _exit(0);
    }
    children.push_back(pid);
  }
  for (int p = 0; p < kProducers; ++p) {
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
      for (uint64_t i = 0; i < kPer && std::chrono::steady_clock::now() < deadline;) {
        if (produce(rx, p * kPer + i)) {
          ++i;
        } else {
          sched_yield();
        }
      }
      _exit(0);
    }
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  EXPECT_EQ(consumed->load(), kTotal);
  uint64_t once = 0;
  for (uint64_t i = 0; i < kTotal; ++i) once += seen[i].load() == 1;
  EXPECT_EQ(once, kTotal);
  munmap(mem, bytes);
}

TEST(Region, ClientMapsWhatTheDaemonMade) {
  auto r = make_region(64, 32, 1472);
  UniqueFd copy(dup(r->fd()));
  auto mapped = Region::map(std::move(copy), r->geometry().size);
  ASSERT_TRUE(mapped.ok()) << mapped.error().message();
  EXPECT_EQ(mapped.value()->geometry().slot_payload, 1472u);
  EXPECT_EQ(mapped.value()->state(), RegionState::Attached);
  // One ring seen through two mappings.
  ASSERT_TRUE(produce(r->rx(), 77));
  uint64_t v;
  ASSERT_TRUE(consume(mapped.value()->rx(), &v));
  EXPECT_EQ(v, 77u);
  // A wrong announced size is refused.
  UniqueFd again(dup(r->fd()));
  EXPECT_FALSE(Region::map(std::move(again), r->geometry().size + 4096).ok());
}

TEST(Region, ClientCannotShrinkIt) {
  auto r = make_region(64, 32);
  EXPECT_NE(ftruncate(r->fd(), 4096), 0);
  EXPECT_EQ(errno, EPERM);
}

}  // namespace
}  // namespace lrp::service
