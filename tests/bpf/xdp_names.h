// Names of XDP verdicts and of the XDP program's global counters, for test
// and fuzzer messages.
#pragma once

#include <linux/bpf.h>

#include "bpf/lrp_shared.h"

namespace lrp::test {

inline const char* verdict_name(int verdict) {
  switch (verdict) {
    case XDP_ABORTED:
      return "XDP_ABORTED";
    case XDP_DROP:
      return "XDP_DROP";
    case XDP_PASS:
      return "XDP_PASS";
    case XDP_TX:
      return "XDP_TX";
    case XDP_REDIRECT:
      return "XDP_REDIRECT";
    default:
      return "unknown verdict";
  }
}

inline const char* global_counter_name(int counter) {
  static constexpr const char* kNames[] = {
      "SEEN",          "PASS_NOT_IP",     "PASS_NOT_UDP",    "PASS_FRAGMENT",  "PASS_MALFORMED",
      "PASS_IPV6_EXT", "PASS_NO_FLOW",    "PASS_SLOT_EMPTY", "REDIRECTED",     "SHED",
      "PASS_QUEUE",    "PASS_OTHER_VLAN", "PASS_OTHER_MAC",  "PASS_NOT_LOCAL", "PASS_NOT_JOINED"};
  static_assert(sizeof(kNames) / sizeof(kNames[0]) == LRP_G_COUNTER_MAX,
                "a name for every counter");
  return counter >= 0 && counter < LRP_G_COUNTER_MAX ? kNames[counter] : "unknown counter";
}

}  // namespace lrp::test
