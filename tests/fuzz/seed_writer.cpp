// Writes the fuzz seed corpus from the malformed-frame catalogue: one input
// per kind for each fuzz target, and for the XDP differential also variants
// with a shed slot and a slot outside the maps, on other receive queues,
// with other host configurations, and with reuseport groups.
#include <arpa/inet.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "tests/bpf/frame_builder.h"
#include "tests/fuzz/xdp_differential.h"
#include "tests/reliability/malformed_frames.h"

namespace {

namespace fs = std::filesystem;
using lrp::fuzz::FlowSpec;

bool write(const fs::path& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  return out.good();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: fuzz_seed_writer CORPUS_DIR\n");
    return 2;
  }
  const fs::path root = argv[1];
  for (const char* dir : {"xdp_diff", "udp_parse", "checksum"}) fs::create_directories(root / dir);
  lrp::test::CatalogueTarget target;
  const uint16_t port = htons(target.port);
  // Wildcard binds of both families on the socket's slot: redirects.
  const std::vector<FlowSpec> served = {{0x00, lrp::fuzz::kSocketSlot, port},
                                        {0x04, lrp::fuzz::kSocketSlot, port}};
  // The frame's own 4-tuple as a connected flow on a shed slot, plus a
  // wildcard flow pointing outside the slot maps.
  const std::vector<FlowSpec> shed = {{0x08 | 0x02 | 0x10, 5, port}, {0x20, 200, port}};
  // Reuseport: a group of three for IPv4, a shed group of two for IPv6, and
  // the frame's own connected flow on another slot, which must win.
  const std::vector<FlowSpec> reuse = {
      {0x40, 2, port}, {0x40 | 0x04 | 0x10, 1, port}, {0x08 | 0x02, 12, port}};
  // Queues in turn: one with the socket, one without, one past the XSKMAP.
  const uint8_t queue_codes[] = {2, 1, lrp::fuzz::kQueueBeyondMap};
  // Hosts in turn: another MAC, the frame's VLAN, the frame's destination as
  // the only local, broadcast or joined address.
  namespace f = lrp::fuzz;
  const uint8_t hosts[] = {f::kHostBench | f::kHostOtherMac, f::kHostBench | f::kHostFrameVlan,
                           f::kHostFrameLocal, f::kHostFrameBroadcast,
                           f::kHostFrameJoined | f::kHostBenchAddresses};
  size_t written = 0;
  for (const auto& kind : lrp::test::malformed_catalogue(target)) {
    if (kind.frame.size() > lrp::fuzz::kMaxFrame) continue;
    const uint8_t queue_code = queue_codes[written % std::size(queue_codes)];
    bool ok =
        write(root / "xdp_diff" / kind.name, lrp::fuzz::encode_input(served, kind.frame)) &&
        write(root / "xdp_diff" / (kind.name + "_shed"),
              lrp::fuzz::encode_input(shed, kind.frame)) &&
        write(root / "xdp_diff" / (kind.name + "_queue"),
              lrp::fuzz::encode_input(served, kind.frame, queue_code)) &&
        write(root / "xdp_diff" / (kind.name + "_host"),
              lrp::fuzz::encode_input(served, kind.frame, 0, hosts[written % std::size(hosts)])) &&
        write(root / "xdp_diff" / (kind.name + "_reuseport"),
              lrp::fuzz::encode_input(reuse, kind.frame, 0)) &&
        write(root / "udp_parse" / kind.name, kind.frame);
    std::vector<uint8_t> checksum_seed = {static_cast<uint8_t>(written * 37)};
    checksum_seed.insert(checksum_seed.end(), kind.frame.begin(), kind.frame.end());
    ok = ok && write(root / "checksum" / kind.name, checksum_seed);
    if (!ok) {
      std::fprintf(stderr, "fuzz_seed_writer: cannot write under %s\n", root.c_str());
      return 1;
    }
    ++written;
  }
  // Frames larger than a page, as at MTU 9000: multi-buffer XDP.
  using lrp::test::FrameBuilder;
  const std::vector<std::pair<std::string, lrp::test::Bytes>> jumbo = {
      {"jumbo_ipv4", FrameBuilder()
                         .eth()
                         .ipv4(lrp::test::kClient4, lrp::test::kServer4)
                         .udp(target.client_port, target.port)
                         .payload(8000)
                         .build()},
      {"jumbo_ipv6", FrameBuilder()
                         .eth()
                         .ipv6(lrp::test::kClient6, lrp::test::kServer6)
                         .udp(target.client_port, target.port)
                         .payload(8000)
                         .build()},
      {"jumbo_ipv4_length_past_frame", FrameBuilder()
                                           .eth()
                                           .ipv4(lrp::test::kClient4, lrp::test::kServer4)
                                           .udp(target.client_port, target.port)
                                           .payload(8000)
                                           .ipv4_total_length(8100)
                                           .build()}};
  for (const auto& [name, frame] : jumbo) {
    if (!write(root / "xdp_diff" / name, lrp::fuzz::encode_input(served, frame))) {
      std::fprintf(stderr, "fuzz_seed_writer: cannot write under %s\n", root.c_str());
      return 1;
    }
  }
  std::printf("fuzz_seed_writer: %zu kinds written under %s\n", written, root.c_str());
  return 0;
}
