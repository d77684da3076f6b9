// A stack of the native API on a private veth bench, and helpers for its tests.
#pragma once

#include <memory>
#include <string>

#include "runtime/interface_runtime.h"
#include "sockets/api/lrp_sockets.h"
#include "tests/support/netns.h"

namespace lrp::sockets::test {

struct StackBench {
  std::unique_ptr<lrp::test::VethBench> veth;
  std::unique_ptr<lrp::test::NetnsGuard> guard;
  std::shared_ptr<Stack> stack;
  // The in-process stack's runtime: its engines and schedulers.
  runtime::InterfaceRuntime& runtime() const;
};

// Builds the bench and opens a stack on its server end; empty on success,
// else what failed.
std::string open_stack(StackBench& bench, sched::Threading threading, const char* tag);

IpAddress address(const char* text);
BindSpec bind_any(bool v6, uint16_t port);
std::span<const uint8_t> bytes(const std::string& text);
std::string text(std::span<const uint8_t> payload);

// Sends, retrying while the transmit path is full (EAGAIN), and waits until the datagram has
// left, up to 5 s: one to an unresolved neighbour waits for ARP or NDP (a second or more while
// the bench's link is coming up).
Status send_retrying(UdpSocket& socket, const Endpoint& to, const std::string& payload);

}  // namespace lrp::sockets::test
