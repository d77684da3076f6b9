#include "lrp/netdev.h"

#include <ifaddrs.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

namespace lrp {

namespace {

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

Status ifreq_call(const std::string& name, unsigned long request, ifreq* req,
                  const char* what) {
  Fd fd(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return errno_error(std::string("open a socket to read ") + what);
  std::memset(req, 0, sizeof(*req));
  std::strncpy(req->ifr_name, name.c_str(), IFNAMSIZ - 1);
  if (ioctl(fd.get(), request, req) != 0)
    return errno_error(std::string("read ") + what + " of interface " + name);
  return {};
}

uint32_t count_rx_queues(const std::string& name) {
  std::error_code ec;
  uint32_t n = 0;
  for (const auto& entry :
       std::filesystem::directory_iterator("/sys/class/net/" + name + "/queues", ec))
    if (entry.path().filename().string().rfind("rx-", 0) == 0) ++n;
  return n == 0 ? 1 : n;
}

}  // namespace

Result<InterfaceInfo> query_interface(const std::string& name) {
  if (name.empty() || name.size() >= IFNAMSIZ)
    return make_error(EINVAL, "interface name '" + name + "' is empty or too long");
  InterfaceInfo info;
  info.name = name;
  info.ifindex = static_cast<int>(if_nametoindex(name.c_str()));
  if (info.ifindex == 0)
    return make_error(ENODEV, "interface " + name + " not found in this network namespace");
  ifreq req;
  LRP_TRY(ifreq_call(name, SIOCGIFHWADDR, &req, "the MAC address"));
  std::memcpy(info.mac.data(), req.ifr_hwaddr.sa_data, 6);
  LRP_TRY(ifreq_call(name, SIOCGIFMTU, &req, "the MTU"));
  info.mtu = static_cast<uint32_t>(req.ifr_mtu);
  LRP_TRY(ifreq_call(name, SIOCGIFFLAGS, &req, "the flags"));
  info.up = (req.ifr_flags & IFF_UP) != 0;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return errno_error("list addresses of " + name);
  for (ifaddrs* a = list; a != nullptr; a = a->ifa_next) {
    if (a->ifa_addr == nullptr || name != a->ifa_name) continue;
    if (a->ifa_addr->sa_family == AF_INET)
      info.addresses.push_back(
          IpAddress::from_v4(reinterpret_cast<sockaddr_in*>(a->ifa_addr)->sin_addr));
    else if (a->ifa_addr->sa_family == AF_INET6)
      info.addresses.push_back(
          IpAddress::from_v6(reinterpret_cast<sockaddr_in6*>(a->ifa_addr)->sin6_addr));
  }
  freeifaddrs(list);
  info.rx_queues = count_rx_queues(name);
  return info;
}

Result<bool> interface_is_up(const std::string& name) {
  ifreq req;
  LRP_TRY(ifreq_call(name, SIOCGIFFLAGS, &req, "the flags"));
  return (req.ifr_flags & IFF_UP) != 0 && (req.ifr_flags & IFF_RUNNING) != 0;
}

}  // namespace lrp
