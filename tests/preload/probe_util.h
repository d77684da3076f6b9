// Small socket helpers for preload-probe: addresses, binds, timed receives,
// and the check lines the tests read ("ok NAME" or "FAIL NAME: why").
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>

namespace probe {

// Prints the check line; counts failures.
void check(bool ok, const std::string& name, const std::string& detail = "");
int failures();
// Prints a transcript line (the pass-through comparison reads these).
void note(const std::string& name, const std::string& value);

sockaddr_storage address(const std::string& text, uint16_t port, socklen_t* len);
std::string describe(const sockaddr_storage& ss, bool with_port);
uint16_t port_of(const sockaddr_storage& ss);

// socket + optional SO_REUSEPORT + bind; -1 on failure.
int bound_udp(int family, const std::string& addr, uint16_t port, bool reuseport = false);
bool send_text(int fd, const std::string& addr, uint16_t port, const std::string& text);
// Waits up to timeout_ms with poll, then receives; empty on timeout.
std::string receive_text(int fd, int timeout_ms, sockaddr_storage* from = nullptr);
bool is_socket_fd(int fd);
std::string err(int code);

}  // namespace probe
