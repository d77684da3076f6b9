// Receiving and sending datagrams on a socket lrp serves, with the kernel's
// calling conventions: msghdr in and out, errno on failure, blocking as the
// socket's O_NONBLOCK, MSG_DONTWAIT and SO_RCVTIMEO say.
#pragma once

#include <sys/socket.h>
#include <sys/types.h>

namespace lrp::preload {

class TrackedSocket;

// One datagram: from the socket's held datagrams, its lrp flow, or the
// kernel socket (traffic that did not come through lrp). Fills msg_name,
// msg_control (the control messages the socket's options ask for) and
// msg_flags. MSG_ERRQUEUE reads the kernel socket's error queue.
ssize_t receive_message(TrackedSocket& s, msghdr* msg, int flags);
int receive_messages(TrackedSocket& s, mmsghdr* msgs, unsigned int n, int flags, timespec* timeout);

// Through lrp when it can send exactly what the kernel would, else through
// the kernel socket (see send_io.cpp).
ssize_t send_message(TrackedSocket& s, const msghdr* msg, int flags);
int send_messages(TrackedSocket& s, mmsghdr* msgs, unsigned int n, int flags);

// FIONREAD: the size of the next datagram, 0 when none.
int next_datagram_size(TrackedSocket& s);

}  // namespace lrp::preload
