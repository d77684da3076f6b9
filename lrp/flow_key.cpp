#include "lrp/flow_key.h"

#include <arpa/inet.h>

#include <cstring>

#include "lrp/bind_spec.h"

namespace lrp {

lrp_flow_key flow_key_for(const BindSpec& bind) {
  lrp_flow_key key;
  std::memset(&key, 0, sizeof(key));
  key.family = bind.local.is_v4() ? 4 : 6;
  key.local_port = htons(bind.port);
  if (bind.remote.has_value()) {
    key.kind = LRP_FLOW_CONNECTED;
    std::memcpy(key.local_addr, bind.local.bytes().data(), 16);
    std::memcpy(key.remote_addr, bind.remote->addr.bytes().data(), 16);
    key.remote_port = htons(bind.remote->port);
  } else if (!bind.local.is_any()) {
    key.kind = LRP_FLOW_LOCAL;
    std::memcpy(key.local_addr, bind.local.bytes().data(), 16);
  } else {
    key.kind = LRP_FLOW_WILDCARD;
  }
  return key;
}

}  // namespace lrp
