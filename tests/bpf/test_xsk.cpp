#include "tests/bpf/test_xsk.h"

#include <fcntl.h>
#include <linux/if_xdp.h>
#include <net/if.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#ifndef AF_XDP
#define AF_XDP 44
#endif
#ifndef SOL_XDP
#define SOL_XDP 283
#endif

namespace lrp::test {

namespace {

constexpr size_t kFrames = 16;
constexpr size_t kFrameSize = 4096;
constexpr int kRingSize = 16;

std::string failed(const char* what) {
  return std::string(what) + ": " + std::strerror(errno);
}

// Runs fn inside a fresh network namespace and returns to the caller's one.
template <class Fn>
bool in_private_netns(std::string* error, Fn fn) {
  const int saved = ::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  if (saved < 0) {
    *error = failed("open /proc/self/ns/net");
    return false;
  }
  if (unshare(CLONE_NEWNET) != 0) {
    *error = failed("unshare(CLONE_NEWNET)");
    close(saved);
    return false;
  }
  const bool ok = fn();
  if (setns(saved, CLONE_NEWNET) != 0) {
    // The test process is stranded in the wrong namespace: nothing after
    // this can be trusted.
    *error = failed("setns back to the original namespace");
    close(saved);
    return false;
  }
  close(saved);
  return ok;
}

}  // namespace

std::unique_ptr<TestXsk> TestXsk::open(std::string* error) {
  std::unique_ptr<TestXsk> xsk(new TestXsk());
  xsk->umem_size_ = kFrames * kFrameSize;
  void* umem =
      mmap(nullptr, xsk->umem_size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (umem == MAP_FAILED) {
    *error = failed("mmap UMEM");
    return nullptr;
  }
  xsk->umem_ = umem;

  // The socket belongs to the namespace it is created in, and keeps it alive.
  const bool ok = in_private_netns(error, [&] {
    xsk->fd_ = socket(AF_XDP, SOCK_RAW | SOCK_CLOEXEC, 0);
    if (xsk->fd_ < 0) {
      *error = failed("socket(AF_XDP)");
      return false;
    }
    xdp_umem_reg reg{};
    reg.addr = reinterpret_cast<uintptr_t>(xsk->umem_);
    reg.len = xsk->umem_size_;
    reg.chunk_size = kFrameSize;
    if (setsockopt(xsk->fd_, SOL_XDP, XDP_UMEM_REG, &reg, sizeof(reg)) != 0) {
      *error = failed("XDP_UMEM_REG");
      return false;
    }
    for (int opt : {XDP_UMEM_FILL_RING, XDP_UMEM_COMPLETION_RING, XDP_RX_RING}) {
      if (setsockopt(xsk->fd_, SOL_XDP, opt, &kRingSize, sizeof(kRingSize)) != 0) {
        *error = failed("set AF_XDP ring size");
        return false;
      }
    }
    const unsigned ifindex = if_nametoindex("lo");
    if (ifindex == 0) {
      *error = failed("if_nametoindex(lo)");
      return false;
    }
    sockaddr_xdp addr{};
    addr.sxdp_family = AF_XDP;
    addr.sxdp_flags = XDP_COPY;
    addr.sxdp_ifindex = ifindex;
    addr.sxdp_queue_id = 0;
    if (bind(xsk->fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      *error = failed("bind AF_XDP socket to lo queue 0");
      return false;
    }
    return true;
  });
  if (!ok) return nullptr;
  return xsk;
}

TestXsk::~TestXsk() {
  if (fd_ >= 0) close(fd_);
  if (umem_ != nullptr) munmap(umem_, umem_size_);
}

}  // namespace lrp::test
