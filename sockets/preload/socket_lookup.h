// What an intercepted call needs first: is this fd a socket lrp serves?
#pragma once

#include <memory>

#include "sockets/preload/fd_table.h"
#include "sockets/preload/runtime.h"
#include "sockets/preload/tracked_socket.h"

namespace lrp::preload {

// The socket behind fd when lrp serves it (or served it for the parent of
// this fork child); null means "pass the call to libc".
inline std::shared_ptr<TrackedSocket> served(int fd) {
  if (!FdTable::get().tracked(fd) || InsideLrp::active()) return nullptr;
  auto s = FdTable::get().find(fd);
  return s != nullptr && (s->taken() || s->inherited()) ? s : nullptr;
}

// A tracked UDP socket, served or not.
inline std::shared_ptr<TrackedSocket> tracked(int fd) {
  if (!FdTable::get().tracked(fd) || InsideLrp::active()) return nullptr;
  return FdTable::get().find(fd);
}

// Calls on a socket a forked child inherited from an lrp-serving parent fail
// with EBADFD, said once on stderr.
int refuse_inherited(int fd);

// Drops a number the program closes from the table; the socket goes when
// its last number does.
void forget_number(int fd);

}  // namespace lrp::preload
