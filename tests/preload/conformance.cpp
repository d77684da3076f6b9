// The conformance probe: the same scenarios against whatever serves this
// process's UDP sockets (the kernel, lrp in-process, lrp through lrpd); the
// test runs it once per backend and compares the "R" lines.
#include <fcntl.h>
#include <net/if.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "tests/preload/conformance_util.h"

namespace probe::conf {

void receive_scenarios();
void send_scenarios();
void misc_scenarios();
void io_uring_scenarios();

bool open_context(const std::string& server_ns, const std::string& client_ns,
                  const std::string& iface) {
  Context& c = context();
  c.server_ns = server_ns;
  c.client_ns = client_ns;
  c.iface = iface;
  c.server_ns_fd = open(("/run/netns/" + server_ns).c_str(), O_RDONLY | O_CLOEXEC);
  c.client_ns_fd = open(("/run/netns/" + client_ns).c_str(), O_RDONLY | O_CLOEXEC);
  c.ifindex = static_cast<int>(if_nametoindex(iface.c_str()));
  if (c.server_ns_fd < 0 || c.client_ns_fd < 0 || c.ifindex == 0) {
    std::fprintf(stderr, "preload-probe: namespaces %s, %s or interface %s not found\n",
                 server_ns.c_str(), client_ns.c_str(), iface.c_str());
    return false;
  }
  // A socket bound here, in the server namespace, before any peer socket
  // exists: whatever serves this process's sockets looks at its interface
  // now, not from a thread that is in the client namespace.
  const int loopback = udp(AF_INET);
  bind_to(loopback, "127.0.0.1", 0);
  close(loopback);
  return true;
}

int run(const std::string& server_ns, const std::string& client_ns, const std::string& iface) {
  if (!open_context(server_ns, client_ns, iface)) return 2;
  // The first socket on the interface's address, made here in the server
  // namespace before any peer socket, opens whatever serves sockets.
  const int first = udp(AF_INET);
  bind_to(first, kServer4, 8999);
  served("warm-up", first);
  close(first);
  receive_scenarios();
  send_scenarios();
  misc_scenarios();
  io_uring_scenarios();
  std::printf("conformance done\n");
  return 0;
}

}  // namespace probe::conf
