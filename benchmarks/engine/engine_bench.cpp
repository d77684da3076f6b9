// The engine microbenchmark: what lrp's own protocol work costs per
// datagram, on AF_XDP rings in ordinary memory (fake_rings.h) with frames in
// a UMEM-like buffer: no device, no system call, no kernel copy.
//   receive: descriptors off the RX ring, frame moves in the pool, parse and
//            checksum, the datagram handed on (its payload read), release,
//            fill ring topped up;
//   send:    the socket's next-hop cache looked at, frame checks, headers
//            built and checksummed, payload copied, descriptors submitted,
//            completions returned to the pool;
// each with the locks and clock reads the engine takes per batch.
// Arguments: batch size, UDP payload bytes. The kernel's side of the rings
// (a few loads and stores per descriptor) is included.
#include <benchmark/benchmark.h>
#include <sys/mman.h>

#include <chrono>
#include <cstring>
#include <mutex>

#include "fake_rings.h"
#include "lrp/frame_pool.h"
#include "lrp/rx_batch.h"
#include "lrp/tx_batch.h"
#include "lrp/udp_frame.h"

namespace lrp::bench {
namespace {

constexpr uint32_t kFrames = 4096;
constexpr uint32_t kFrameSize = 2048;
constexpr uint32_t kRing = 2048;
constexpr uint32_t kHeadroom = 256;  // where copy mode puts a received packet
constexpr uint16_t kSlot = 3;

struct Umem {
  Umem() {
    void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    area = p == MAP_FAILED ? nullptr : static_cast<uint8_t*>(p);
  }
  ~Umem() {
    if (area != nullptr) munmap(area, size);
  }
  const size_t size = size_t{kFrames} * kFrameSize;
  uint8_t* area = nullptr;
};

FrameHeaderSpec client_to_server() {
  FrameHeaderSpec spec{};
  spec.src_mac = {0x02, 0, 0, 0, 0, 0x02};
  spec.dst_mac = {0x02, 0, 0, 0, 0, 0x01};
  spec.source = Endpoint{*IpAddress::parse("198.18.0.2"), 40000};
  spec.destination = Endpoint{*IpAddress::parse("198.18.0.1"), 9000};
  return spec;
}

int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// CPU time per datagram, in seconds (printed with an SI prefix: 85.2n is 85.2 ns).
void per_datagram(benchmark::State& state, size_t batch) {
  state.counters["per_datagram"] =
      benchmark::Counter(static_cast<double>(batch), benchmark::Counter::kIsIterationInvariantRate |
                                                         benchmark::Counter::kInvert);
}

void Receive(benchmark::State& state) {
  const auto batch = static_cast<size_t>(state.range(0));
  const auto payload_len = static_cast<size_t>(state.range(1));
  Umem umem;
  if (umem.area == nullptr) return state.SkipWithError("no memory for the UMEM");
  // Every frame holds the same valid datagram where the kernel would put it.
  std::vector<uint8_t> payload(payload_len, 0x5a);
  const FrameHeaderSpec spec = client_to_server();
  size_t frame_len = 0;
  for (uint32_t f = 0; f < kFrames; ++f) {
    auto len = build_udp_frame(
        {umem.area + size_t{f} * kFrameSize + kHeadroom, kFrameSize - kHeadroom}, spec, payload);
    if (!len) return state.SkipWithError(len.error().message().c_str());
    frame_len = len.value();
  }
  FramePool pool(kFrames, kFrameSize, 8);
  RingMemory fill_m, rx_m;
  xsk_ring_prod fill{};
  xsk_ring_cons rx{};
  init_producer(fill, fill_m, kRing, sizeof(uint64_t));
  init_consumer(rx, rx_m, kRing, sizeof(xdp_desc));
  fill_from_pool(&fill, kRing, pool);
  const RxQueue q{&rx, &pool, umem.area, ParseOptions{}, nullptr, 0};
  SocketCounters counters;
  std::vector<Datagram> out(batch), handed_on(batch);
  std::vector<uint64_t> frames(batch);
  std::mutex fill_mutex;
  uint64_t sum = 0;
  for (auto _ : state) {
    kernel_receive(fill_m, rx_m, static_cast<uint32_t>(batch), kHeadroom,
                   static_cast<uint32_t>(frame_len));
    const ProcessResult r = receive_batch(q, kSlot, counters, out, static_cast<uint32_t>(batch));
    for (size_t i = 0; i < r.delivered; ++i) {
      handed_on[i] = out[i];
      sum += out[i].view.payload[0] + out[i].view.source.port;
    }
    for (size_t i = 0; i < r.delivered; ++i) frames[i] = handed_on[i].frame;
    pool.release_batch({frames.data(), r.delivered}, kSlot);
    std::unique_lock lock(fill_mutex, std::try_to_lock);
    fill_from_pool(&fill, kRing, pool);
  }
  benchmark::DoNotOptimize(sum);
  if (counters.delivered.load() != state.iterations() * batch)
    return state.SkipWithError("not every datagram was delivered");
  per_datagram(state, batch);
}

void Send(benchmark::State& state) {
  const auto batch = static_cast<size_t>(state.range(0));
  const auto payload_len = static_cast<size_t>(state.range(1));
  Umem umem;
  if (umem.area == nullptr) return state.SkipWithError("no memory for the UMEM");
  FramePool pool(kFrames, kFrameSize, 8);
  RingMemory tx_m, comp_m;
  xsk_ring_prod tx{};
  xsk_ring_cons comp{};
  init_producer(tx, tx_m, kRing, sizeof(xdp_desc));
  init_consumer(comp, comp_m, kRing, sizeof(uint64_t));
  const TxQueue q{&tx, &pool, umem.area, kFrameSize, false};
  std::vector<uint8_t> payload(payload_len, 0xa5);
  // A reply from the server to its client, the socket's cached next hop.
  FrameHeaderSpec reply = client_to_server();
  std::swap(reply.source, reply.destination);
  std::swap(reply.src_mac, reply.dst_mac);
  const std::atomic<uint64_t> generation{7};
  const PathInfo cached{reply.dst_mac, 1500, steady_ns() + 3'600'000'000'000, 7};
  const IpAddress cached_dst = reply.destination.addr;
  std::vector<TxFrame> frames(batch);
  std::mutex tx_mutex;
  SocketCounters counters;
  for (auto _ : state) {
    std::lock_guard lock(tx_mutex);
    const int64_t now = steady_ns();
    for (size_t i = 0; i < batch; ++i) {
      if (!(cached_dst == reply.destination.addr &&
            cached.generation == generation.load(std::memory_order_acquire) &&
            now < cached.expires_ns))
        return state.SkipWithError("next-hop cache missed");
      if (20 + 8 + payload.size() > cached.mtu) return state.SkipWithError("above the MTU");
      FrameHeaderSpec spec{};
      spec.src_mac = reply.src_mac;
      spec.dst_mac = cached.mac;
      spec.source = reply.source;
      spec.destination = reply.destination;
      if (!check_udp_frame(spec, payload.size(), kFrameSize).ok())
        return state.SkipWithError("frame check failed");
      frames[i] = TxFrame{spec, payload};
    }
    const size_t sent = transmit_frames(q, kSlot, frames, 256);
    bump(counters.sent, sent);
    kernel_transmit(tx_m, comp_m);
    reclaim_completed(&comp, kRing, pool,
                      [&](uint16_t, uint32_t n) { bump(counters.completed, n); });
  }
  if (counters.completed.load() != state.iterations() * batch)
    return state.SkipWithError("not every datagram was sent and completed");
  per_datagram(state, batch);
}

void Arguments(benchmark::internal::Benchmark* b) {
  for (int batch : {1, 32})
    for (int payload : {64, 1400}) b->Args({batch, payload});
  b->ArgNames({"batch", "payload"});
}

BENCHMARK(Receive)->Apply(Arguments);
BENCHMARK(Send)->Apply(Arguments);

}  // namespace
}  // namespace lrp::bench

BENCHMARK_MAIN();
