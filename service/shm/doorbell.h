// Doorbells between lrpd and an application: the two ends of a stream
// socketpair. Ringing sends one byte without ever blocking (MSG_DONTWAIT is
// per call, so a peer cannot make it block by changing its end's flags, as
// it could with a shared eventfd); a full buffer means the peer has not
// looked yet, and then one more byte would change nothing.
#pragma once

#include "lrp/result.h"
#include "service/wire/unique_fd.h"

namespace lrp::service {

struct DoorbellPair {
  UniqueFd daemon;  // lrpd's end
  UniqueFd client;  // the application's end (sent with the grant)
};

Result<DoorbellPair> make_doorbell();
// Wakes whoever polls the other end.
void ring_doorbell(int fd);
enum class DoorbellState { Quiet, Rung, Closed };
// Clears what was rung at this end (bounded work). Closed: the other end is
// gone (lrpd died, or the application's last process did).
DoorbellState drain_doorbell(int fd);

}  // namespace lrp::service
