#include "tests/sockets_api/stack_bench.h"

#include <chrono>
#include <thread>

#include "sockets/api/in_process_backend.h"

namespace lrp::sockets::test {

std::string open_stack(StackBench& b, sched::Threading threading, const char* tag) {
  b.veth = std::make_unique<lrp::test::VethBench>(tag);
  if (!b.veth->ok) return "could not build the veth bench";
  b.guard = std::make_unique<lrp::test::NetnsGuard>(b.veth->server_ns);
  if (!b.guard->ok()) return "could not enter the server namespace";
  StackConfig config;
  config.in_process = true;
  config.ifname = b.veth->server_if;
  config.threading = threading;
  auto stack = Stack::open(config);
  if (!stack) return stack.error().message();
  b.stack = std::move(stack.value());
  return {};
}

runtime::InterfaceRuntime& StackBench::runtime() const {
  return dynamic_cast<InProcessBackend&>(stack->backend()).runtime();
}

IpAddress address(const char* text) {
  return IpAddress::parse(text).value();
}

BindSpec bind_any(bool v6, uint16_t port) {
  BindSpec bind;
  bind.local = v6 ? IpAddress::any_v6() : IpAddress::any_v4();
  bind.port = port;
  return bind;
}

std::span<const uint8_t> bytes(const std::string& text) {
  return {reinterpret_cast<const uint8_t*>(text.data()), text.size()};
}

std::string text(std::span<const uint8_t> payload) {
  return std::string(reinterpret_cast<const char*>(payload.data()), payload.size());
}

Status send_retrying(UdpSocket& socket, const Endpoint& to, const std::string& payload) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  const uint64_t sent_before = socket.counters().sent;
  for (;;) {
    Status st = socket.send_to(to, bytes(payload));
    if (st.ok()) break;
    if (st.error().code != EAGAIN || std::chrono::steady_clock::now() > deadline) return st;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  // A datagram to an unresolved neighbour is taken at once and leaves when
  // ARP or NDP answers (a second or more on a bench whose link just came
  // up): wait for that, as the callers want the neighbour resolved.
  while (socket.counters().sent == sent_before && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  return {};
}

}  // namespace lrp::sockets::test
