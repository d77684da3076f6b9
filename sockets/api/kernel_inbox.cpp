#include "sockets/api/kernel_inbox.h"

#include <algorithm>

namespace lrp::sockets {

void KernelInbox::watch(SlotId slot, KernelSocket* socket) {
  std::lock_guard lock(mutex_);
  sources_.push_back({slot, socket});
}

void KernelInbox::unwatch(SlotId slot) {
  std::lock_guard lock(mutex_);
  std::erase_if(sources_, [slot](const Source& s) { return s.slot == slot; });
}

bool KernelInbox::empty() const {
  std::lock_guard lock(mutex_);
  return sources_.empty();
}

size_t KernelInbox::take(std::span<Datagram> out) {
  std::lock_guard lock(mutex_);
  size_t n = 0;
  // Each source in turn, so a busy one cannot hide the others.
  for (size_t k = 0; k < sources_.size() && n < out.size(); ++k) {
    const Source& s = sources_[(next_source_ + k) % sources_.size()];
    while (n < out.size() && lent_count_ < kMaxLent) {
      std::unique_ptr<uint8_t[]> buffer;
      if (free_.empty()) {
        buffer = std::make_unique<uint8_t[]>(kBufferSize);
      } else {
        buffer = std::move(free_.back());
        free_.pop_back();
      }
      auto got = s.socket->receive({buffer.get(), kBufferSize});
      if (!got) {
        free_.push_back(std::move(buffer));
        break;
      }
      size_t index = 0;
      while (index < lent_.size() && lent_[index] != nullptr) ++index;
      if (index == lent_.size()) lent_.emplace_back();
      Datagram& d = out[n++];
      d.view = DatagramView{};
      d.view.source = got->source;
      d.view.destination = got->local;
      d.view.payload = {buffer.get(), got->size};
      d.slot = s.slot;
      d.queue = kKernelQueue;
      d.frame = index;
      lent_[index] = std::move(buffer);
      ++lent_count_;
    }
  }
  if (!sources_.empty()) next_source_ = (next_source_ + 1) % sources_.size();
  return n;
}

void KernelInbox::give_back(const Datagram& d) {
  std::lock_guard lock(mutex_);
  if (d.frame >= lent_.size() || lent_[d.frame] == nullptr) return;
  free_.push_back(std::move(lent_[d.frame]));
  --lent_count_;
  // Keep a few buffers for the next datagrams, not every one ever lent.
  if (free_.size() > 8) free_.pop_back();
}

}  // namespace lrp::sockets
