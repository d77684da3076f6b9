#include "lrp/shed_votes.h"

#include "lrp/xdp_program.h"

namespace lrp {

Status ShedVotes::vote(uint16_t slot, uint32_t queue, bool shed) {
  if (slot >= votes_.size() || queue >= 64)
    return make_error(EINVAL, "shed vote for slot " + std::to_string(slot) + " from queue " +
                                  std::to_string(queue));
  std::lock_guard lock(mutex_);
  const uint64_t bit = uint64_t{1} << queue;
  const bool before = votes_[slot] != 0;
  votes_[slot] = shed ? (votes_[slot] | bit) : (votes_[slot] & ~bit);
  const bool after = votes_[slot] != 0;
  if (before == after) return {};
  return program_.set_shed(slot, after);
}

Status ShedVotes::clear(uint16_t slot) {
  if (slot >= votes_.size())
    return make_error(EINVAL, "clear shed votes of slot " + std::to_string(slot));
  std::lock_guard lock(mutex_);
  votes_[slot] = 0;
  return program_.set_shed(slot, false);
}

bool ShedVotes::shed(uint16_t slot) const {
  std::lock_guard lock(mutex_);
  return slot < votes_.size() && votes_[slot] != 0;
}

}  // namespace lrp
