// An application on a stack: the unit the scheduler isolates and charges.
// Sockets that join one application share its weight and receive queue, and
// are read through the application; a socket opened on the stack directly
// has an application of its own.
#pragma once

#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "lrp/result.h"
#include "sockets/api/backend.h"
#include "sockets/api/datagrams.h"
#include "sockets/api/kernel_socket.h"
#include "sockets/api/options.h"

namespace lrp::sockets {

class ReceivePath;
class Stack;
class UdpSocket;

class Application : public std::enable_shared_from_this<Application> {
 public:
  // Removes the application from the scheduler. Its sockets must be closed
  // first (they keep it alive while open).
  ~Application();
  Application(const Application&) = delete;
  Application& operator=(const Application&) = delete;

  // A socket that joins this application (same errors as Stack::open_udp).
  Result<std::unique_ptr<UdpSocket>> open_udp(const BindSpec& bind);

  // Zero-copy receive of up to out.size() datagrams of any of its sockets
  // (Datagram::slot says which), waiting up to timeout_ms (kNoWait,
  // kWaitForever). Returns 0 when nothing arrived in time. In run-to-
  // completion threading this call does the protocol work. Each datagram is
  // held until done().
  Result<size_t> receive(std::span<Datagram> out, int timeout_ms);
  void done(const Datagram& datagram);
  void done(std::span<const Datagram> datagrams);
  // One datagram copied into buffer (and its frame released at once).
  // EAGAIN when nothing arrived in time.
  Result<ReceiveInfo> receive_copy(std::span<uint8_t> buffer, int timeout_ms,
                                   bool want_local = false);
  // Readable while a receive would find something: for the caller's
  // epoll/poll/select. Owned by the application.
  int ready_fd() const;

  BackendApp id() const { return id_; }
  const ApplicationConfig& config() const { return config_; }
  // Summed over the queues it is served on.
  AppStats counters() const;
  size_t socket_count() const;
  Stack& stack() { return *stack_; }

 private:
  friend class Stack;
  friend class UdpSocket;
  Application(std::shared_ptr<Stack> stack, const ApplicationConfig& config, BackendApp id,
              bool exclusive);
  static Result<std::shared_ptr<Application>> create(std::shared_ptr<Stack> stack,
                                                     const ApplicationConfig& config,
                                                     bool exclusive);
  // Adds a socket's flow to this application; the caller wraps the slot.
  // kernel_fd: the kernel socket bound the same way, or -1 (see Backend).
  Result<SlotId> add_slot(const BindSpec& bind, int kernel_fd);
  // Closes the socket; datagrams of it still queued or cached are dropped
  // (the engine took their frames back).
  Status remove_slot(SlotId slot);
  Status watch_kernel(SlotId slot, KernelSocket* socket);
  void unwatch_kernel(SlotId slot, int fd);

  std::shared_ptr<Stack> stack_;
  ApplicationConfig config_;
  BackendApp id_ = 0;
  bool exclusive_ = false;  // the private application of one socket
  std::unique_ptr<ReceivePath> path_;
  mutable std::mutex mutex_;  // slots_
  std::vector<SlotId> slots_;
};

}  // namespace lrp::sockets
