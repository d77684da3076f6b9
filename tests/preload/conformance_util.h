// The conformance probe's helpers: a peer in the client namespace (sockets
// made there by this very process, so the probe can send and look at what
// arrives), canonical descriptions of call results, and the result lines
// the test compares between backends.
//
// Lines:  "R KEY: VALUE"   a result, compared between backends field by field
//         "S KEY: served|kernel"   whether lrp served the scenario's socket
//                                  (not compared; the test checks it per backend)
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace probe::conf {

inline constexpr const char* kServer4 = "198.18.0.1";
inline constexpr const char* kClient4 = "198.18.0.2";
inline constexpr const char* kBroadcast4 = "198.18.0.255";
inline constexpr const char* kServer6 = "2001:2::1";
inline constexpr const char* kClient6 = "2001:2::2";

struct Context {
  std::string server_ns, client_ns, iface;
  int server_ns_fd = -1, client_ns_fd = -1;
  int ifindex = 0;
};
Context& context();
// Opens both namespaces and finds the interface; false (said on stderr) when not.
bool open_context(const std::string& server_ns, const std::string& client_ns,
                  const std::string& iface);

// The calling thread is in the client namespace while one lives.
class InClient {
 public:
  InClient();
  ~InClient();
  InClient(const InClient&) = delete;
  InClient& operator=(const InClient&) = delete;
};

void result(const std::string& key, const std::string& value);
// Served when lrp took the socket over (its number is not a socket any more).
void served(const std::string& key, int fd);

// The parts joined by spaces. A braced list is evaluated in order, so
// join({call1(), call2()}) runs call1 first (operator+ would not promise it).
std::string join(std::initializer_list<std::string> parts);
// "N" or "-1 ENAME".
std::string rv(long r);
std::string err_name(int code);
std::string addr_text(const sockaddr* sa, socklen_t len);
sockaddr_storage sockaddr_of(const std::string& addr, uint16_t port, socklen_t* len);
bool is_socket(int fd);
int64_t now_ms();
timespec realtime();
void sleep_ms(int ms);
// poll for POLLIN; true when readable in time.
bool readable(int fd, int timeout_ms);

// A UDP socket of the server side: made, options applied by the caller,
// then bound; -1 when any step fails.
int udp(int family);
int bind_to(int fd, const std::string& addr, uint16_t port);
int set_int(int fd, int level, int name, int value);

// The full result of a recvmsg, in one canonical line. Timestamps are
// judged against [t0, t1]: "in-window" or how far out.
struct Window {
  timespec t0{}, t1{};
};
std::string recv_line(int fd, int flags, size_t buffer, size_t control, bool with_name = true,
                      const Window* window = nullptr);
std::string describe_msg(long r, int saved_errno, const msghdr& msg, const char* data,
                         const Window* window);

// A socket of the peer, bound in the client namespace.
class Peer {
 public:
  Peer(int family, uint16_t port, const char* address = nullptr);
  ~Peer();
  Peer(const Peer&) = delete;
  Peer& operator=(const Peer&) = delete;
  int fd() const { return fd_; }
  uint16_t port() const { return port_; }
  // Sends payload to addr:port with optional TOS/traffic class and TTL/hop
  // limit (-1: the socket's). Returns the sendmsg result.
  long send(const std::string& addr, uint16_t port, const std::string& payload, int tos = -1,
            int ttl = -1);
  struct Got {
    std::string payload;
    std::string from;
    int tos = -1;
    int ttl = -1;
  };
  // Everything that arrives until `quiet_ms` pass with nothing new (at most
  // `total_ms`).
  std::vector<Got> drain(int quiet_ms = 300, int total_ms = 3000);
  // "N x [len:from tos ttl]..." summary of a drain.
  static std::string summary(const std::vector<Got>& got, bool with_source = true);

 private:
  int fd_ = -1;
  int family_;
  uint16_t port_;
};

}  // namespace probe::conf
