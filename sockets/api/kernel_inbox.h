// Datagrams an application's sockets received through their kernel sockets
// (what XDP did not redirect: from this host, other interfaces, fragments,
// or everything while lrpd is away), handed out like lrp's own: a Datagram
// whose queue is kKernelQueue and whose payload lives in a buffer lent until
// done(). Rare traffic, so plain buffers and a lock.
#pragma once

#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "lrp/engine.h"
#include "sockets/api/datagrams.h"
#include "sockets/api/kernel_socket.h"

namespace lrp::sockets {

class KernelInbox {
 public:
  // Buffers lent at once; beyond it the kernel sockets keep their datagrams.
  static constexpr size_t kMaxLent = 64;
  static constexpr size_t kBufferSize = 65536;  // any UDP datagram fits

  // The socket is read here until unwatch(slot); it must outlive that.
  void watch(SlotId slot, KernelSocket* socket);
  void unwatch(SlotId slot);
  bool empty() const;

  // Takes what the kernel sockets have queued, without waiting.
  size_t take(std::span<Datagram> out);
  void give_back(const Datagram& d);

 private:
  struct Source {
    SlotId slot;
    KernelSocket* socket;
  };
  mutable std::mutex mutex_;
  std::vector<Source> sources_;
  size_t next_source_ = 0;
  std::vector<std::unique_ptr<uint8_t[]>> free_;
  std::vector<std::unique_ptr<uint8_t[]>> lent_;  // index = Datagram::frame
  size_t lent_count_ = 0;
};

}  // namespace lrp::sockets
