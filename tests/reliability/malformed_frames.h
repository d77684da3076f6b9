// A catalogue of bad (and borderline valid) frames aimed at one bound UDP
// port, and of valid ones addressed to other hosts, each with the place it
// must be accounted: an XDP reason counter, a
// user-space drop reason, delivery, or a kernel drop before or after XDP.
// The live veth test sends them into a running server; the fuzz seed corpus
// is written from them.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "bpf/lrp_shared.h"
#include "lrp/udp_frame.h"
#include "tests/bpf/frame_builder.h"

namespace lrp::test {

enum class Outcome : uint8_t {
  XdpPass,      // passed to the kernel stack at XDP, counted under `xdp`
  UserDrop,     // redirected, dropped by protocol work under `drop`
  Delivered,    // a valid datagram: the application gets its payload
  XskTooLarge,  // redirected, but larger than a UMEM frame: XDP_STATISTICS rx_dropped
  LinkTooLarge  // larger than the server's MTU: veth drops it before XDP
};

struct MalformedKind {
  std::string name;  // letters, digits, underscores
  Bytes frame;
  Outcome outcome = Outcome::XdpPass;
  lrp_global_counter xdp = LRP_G_PASS_MALFORMED;  // for XdpPass
  DropReason drop = DropReason::Count;            // for UserDrop
  // Background traffic (ARP, neighbour discovery) moves this counter too.
  bool noisy = false;
};

struct CatalogueTarget {
  uint16_t port = 7000;  // bound on both families, any address
  uint16_t unbound_port = 7001;
  uint16_t client_port = 40000;
  std::array<uint8_t, 6> server_mac = FrameBuilder::kUnicastMac;
  // Frames for the UMEM-frame and MTU cases.
  size_t umem_frame_size = 2048;
  size_t server_mtu = 3000;
};

// At least 30 kinds; names are unique.
std::vector<MalformedKind> malformed_catalogue(const CatalogueTarget& target);

// Writes a correct UDP checksum into a frame built by FrameBuilder (which
// leaves it zero); the frame's own length fields say where the datagram is.
void set_udp_checksum(Bytes& frame);

// The payload every catalogue frame carries: "lrp-kind:<name>", so a
// delivered one is recognised.
std::string marker(const std::string& name);

}  // namespace lrp::test
