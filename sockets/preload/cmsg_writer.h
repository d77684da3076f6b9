// Control messages written into a program's msghdr exactly as the kernel's
// put_cmsg writes them: a message that does not fit is cut to the room left
// (its cmsg_len says the cut length) and MSG_CTRUNC is set; msg_controllen
// ends up as the bytes used.
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <cstring>

namespace lrp::preload {

class CmsgWriter {
 public:
  explicit CmsgWriter(msghdr* msg)
      : msg_(msg), at_(static_cast<char*>(msg->msg_control)), room_(msg->msg_controllen) {}

  void put(int level, int type, const void* data, size_t len) {
    if (at_ == nullptr || room_ < sizeof(cmsghdr)) {
      msg_->msg_flags |= MSG_CTRUNC;
      return;
    }
    size_t cmlen = CMSG_LEN(len);
    if (room_ < cmlen) {
      msg_->msg_flags |= MSG_CTRUNC;
      cmlen = room_;
    }
    cmsghdr header{};
    header.cmsg_len = cmlen;
    header.cmsg_level = level;
    header.cmsg_type = type;
    std::memcpy(at_, &header, sizeof(header));
    std::memcpy(at_ + (CMSG_LEN(0)), data, cmlen - CMSG_LEN(0));
    const size_t step = CMSG_SPACE(len) < room_ ? CMSG_SPACE(len) : room_;
    at_ += step;
    room_ -= step;
    used_ += step;
  }
  template <class T>
  void put(int level, int type, const T& value) {
    put(level, type, &value, sizeof(value));
  }

  // Sets msg_controllen to what was written.
  void finish() { msg_->msg_controllen = used_; }

 private:
  msghdr* msg_;
  char* at_;
  size_t room_;
  size_t used_ = 0;
};

}  // namespace lrp::preload
