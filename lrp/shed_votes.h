// The shed flag of an lrp socket is one per interface (XDP drops the socket's
// frames on every queue), but each queue's scheduler decides on its own. The
// flag is up while any queue wants it up.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>

#include "bpf/lrp_shared.h"
#include "lrp/result.h"

namespace lrp {

class XdpProgram;

class ShedVotes {
 public:
  explicit ShedVotes(XdpProgram& program) : program_(program) {}

  // Records queue's wish for the slot; writes the flag when the first vote
  // for shedding comes or the last one goes.
  Status vote(uint16_t slot, uint32_t queue, bool shed);
  // A closed slot: every vote goes and the flag is lowered.
  Status clear(uint16_t slot);
  bool shed(uint16_t slot) const;

 private:
  XdpProgram& program_;
  mutable std::mutex mutex_;  // changes are rare (the shed rule has hysteresis)
  std::array<uint64_t, LRP_MAX_SLOTS> votes_{};
};

}  // namespace lrp
