#include "tests/support/netns.h"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

namespace lrp::test {

int run(const std::string& command) {
  int status = std::system((command + " >/dev/null 2>&1").c_str());
  return status == -1 ? -1 : WEXITSTATUS(status);
}

NetnsGuard::NetnsGuard(const std::string& netns) {
  saved_fd_ = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  int fd = open(("/var/run/netns/" + netns).c_str(), O_RDONLY | O_CLOEXEC);
  if (saved_fd_ >= 0 && fd >= 0) ok_ = setns(fd, CLONE_NEWNET) == 0;
  if (fd >= 0) close(fd);
}

NetnsGuard::~NetnsGuard() {
  if (saved_fd_ >= 0) {
    if (ok_) (void)setns(saved_fd_, CLONE_NEWNET);
    close(saved_fd_);
  }
}

static constexpr const char* kPrefix = "lrpt-";

void remove_stale_benches() {
  DIR* dir = opendir("/var/run/netns");
  if (dir == nullptr) return;
  while (dirent* entry = readdir(dir)) {
    std::string name = entry->d_name;
    if (name.rfind(kPrefix, 0) != 0) continue;
    // lrpt-<tag>-<pid>-<n>{s,c}
    size_t end = name.rfind('-');
    size_t begin = name.rfind('-', end - 1);
    if (end == std::string::npos || begin == std::string::npos) continue;
    pid_t pid = std::atoi(name.substr(begin + 1, end - begin - 1).c_str());
    if (pid > 0 && kill(pid, 0) != 0) run("ip netns del " + name);
  }
  closedir(dir);
}

VethBench::VethBench(const std::string& tag, unsigned queues)
    : VethBench(tag, VethOptions{.queues = queues}) {}

VethBench::VethBench(const std::string& tag, const VethOptions& options) {
  static std::atomic<int> counter{0};
  remove_stale_benches();
  const int n = counter++;
  const std::string id = std::to_string(getpid()) + "-" + std::to_string(n);
  server_ns = kPrefix + tag + "-" + id + "s";
  client_ns = kPrefix + tag + "-" + id + "c";
  // Interface names are at most 15 bytes.
  const std::string short_id = std::to_string(getpid() % 100000) + "x" + std::to_string(n);
  server_if = "ls" + short_id;
  client_if = "lc" + short_id;
  const std::string s = "ip -n " + server_ns + " ";
  const std::string c = "ip -n " + client_ns + " ";
  const std::string queues = " numtxqueues " + std::to_string(options.queues) + " numrxqueues " +
                             std::to_string(options.queues);
  const std::string mtu = options.mtu != 0 ? " mtu " + std::to_string(options.mtu) : "";
  ok = run("ip netns add " + server_ns) == 0 && run("ip netns add " + client_ns) == 0 &&
       run(s + "link add " + server_if + queues + mtu + " type veth peer name " + client_if +
           " netns " + client_ns + queues + mtu) == 0 &&
       run(s + "link set lo up") == 0 && run(c + "link set lo up") == 0 &&
       run(s + "addr add " + kServer4 + "/24 dev " + server_if) == 0 &&
       run(c + "addr add " + kClient4 + "/24 dev " + client_if) == 0 &&
       run(s + "addr add " + kServer6 + "/64 dev " + server_if + " nodad") == 0 &&
       run(c + "addr add " + kClient6 + "/64 dev " + client_if + " nodad") == 0 &&
       (options.tx_checksum_offload ||
        (run("ip netns exec " + client_ns + " ethtool -K " + client_if + " tx off") == 0 &&
         run("ip netns exec " + server_ns + " ethtool -K " + server_if + " tx off") == 0)) &&
       // Link-local addresses usable at once too: neighbour discovery from
       // lrp needs one, and duplicate detection would hold it for seconds.
       run("ip netns exec " + server_ns + " sysctl -qw net.ipv6.conf." + server_if +
           ".accept_dad=0") == 0 &&
       run("ip netns exec " + client_ns + " sysctl -qw net.ipv6.conf." + client_if +
           ".accept_dad=0") == 0 &&
       run(s + "link set " + server_if + " up") == 0 &&
       run(c + "link set " + client_if + " up") == 0;
}

VethBench::~VethBench() {
  run("ip netns del " + server_ns);
  run("ip netns del " + client_ns);
}

int64_t link_statistic(const std::string& netns, const std::string& ifname,
                       const std::string& counter) {
  const std::string command = "ip netns exec " + netns + " cat /sys/class/net/" + ifname +
                              "/statistics/" + counter + " 2>/dev/null";
  FILE* p = popen(command.c_str(), "r");
  if (p == nullptr) return -1;
  long long value = -1;
  if (std::fscanf(p, "%lld", &value) != 1) value = -1;
  pclose(p);
  return value;
}

}  // namespace lrp::test
