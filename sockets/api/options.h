// Settings of applications and sockets on the native API, and the options a
// program can set on a socket by name or by value.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "lrp/result.h"

namespace lrp::sockets {

// Timeouts of receive calls, in milliseconds: 0 does not wait, a negative
// value waits until something arrives.
inline constexpr int kNoWait = 0;
inline constexpr int kWaitForever = -1;

// An application is what the scheduler charges and isolates: its sockets
// share one weight, one bounded receive queue and one cap on held frames.
struct ApplicationConfig {
  std::string name;             // empty: named after the first socket ("udp:PORT")
  uint32_t weight = 1;          // share of protocol CPU relative to other applications
  uint32_t queue_bound = 1024;  // delivered, not yet read datagrams
  uint32_t held_cap = 512;      // frames each socket may hold at once (received, not done)
};

// A socket opened without an explicit application gets its own, built from
// `application`.
struct SocketConfig {
  ApplicationConfig application;
  // Copying receive reports the datagram's destination (IP_PKTINFO).
  bool receive_local_address = false;
  // A kernel UDP socket the caller already bound (or connected) as the bind
  // says, and reads itself; -1: the API opens one and reads it (see
  // kernel_socket.h for what it is for).
  int kernel_fd = -1;
  // SO_REUSEADDR on the kernel socket: as in the kernel, a socket bound to
  // one address (or connected) may then share the port with one bound to
  // any address, when both ask for it.
  bool reuse_address = false;
};

enum class Option : uint8_t {
  ReceiveQueueBound,    // ApplicationConfig::queue_bound
  ApplicationWeight,    // ApplicationConfig::weight
  HeldFrames,           // ApplicationConfig::held_cap
  ReceiveLocalAddress,  // SocketConfig::receive_local_address (0 or 1)
};

// "queue_bound", "weight", "held_frames", "pktinfo".
const char* to_string(Option option);
// The inverse of to_string; ENOPROTOOPT for names lrp does not support.
Result<Option> parse_option(std::string_view name);

// Sets one option in a configuration; EINVAL for a value out of range
// (zero weight or bound, or more than the engine's frames).
Status set_option(SocketConfig& config, Option option, int64_t value);
int64_t get_option(const SocketConfig& config, Option option);

// Applies "name=value[,name=value...]" with the names above plus
// "application=NAME" (e.g. from a launcher's command line or environment).
Status apply_option_list(SocketConfig& config, std::string_view list);

}  // namespace lrp::sockets
