// Sockets passed over Unix sockets (SCM_RIGHTS). A served socket's number is
// a readiness fd, which would mean nothing to the receiver: the library
// passes the kernel socket behind it instead. On the receiving side a UDP
// socket that arrives is tracked like one the program made: the same socket
// this process serves becomes one more number of it; another one is taken
// over if lrp can serve it, else it stays on the kernel.
#pragma once

#include <sys/socket.h>

#include <vector>

namespace lrp::preload {

// When msg passes served sockets: a copy of its control data with their
// kernel sockets in `storage` and a msghdr using it in `out`; true then.
bool translate_passed_fds(const msghdr* msg, msghdr* out, std::vector<char>* storage);

// After a receive on a Unix socket: tracks the UDP sockets it brought.
void adopt_received_fds(msghdr* msg, int flags);

// After a receive by lrp itself (lrpd's region and doorbell fds): marks them
// lrp's and moves them above the program's range, rewriting their numbers
// in msg.
void note_received_fds(msghdr* msg);

}  // namespace lrp::preload
