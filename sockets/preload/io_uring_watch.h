// io_uring: a ring submits socket operations to the kernel directly, on the
// fd numbers the program holds, and those name readiness fds for sockets lrp
// serves. So a process that uses io_uring keeps its sockets on the kernel:
// - ring creation through the C library or liburing (syscall(), liburing's
//   io_uring_setup and io_uring_queue_init*) is seen as it happens: every
//   socket lrp serves goes back to the kernel, and none is taken over later;
// - a ring made without either (inline system calls) is seen at the next
//   takeover, by its mapping in /proc/self/maps.
// What stays out of sight: a ring made by inline system calls, with its
// memory supplied by the program (IORING_SETUP_NO_MMAP), after sockets were
// taken over. README.md says so.
#pragma once

namespace lrp::preload {

// True when the process has an io_uring ring mapped.
bool process_has_io_uring();

// Called when the process makes a ring: gives every served socket back.
void io_uring_started();

}  // namespace lrp::preload
