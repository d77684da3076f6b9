// The capabilities lrpd needs, checked before it touches anything, so that
// an unprivileged start fails with a sentence instead of a stray EPERM.
#pragma once

#include <string>
#include <vector>

namespace lrp::service {

struct Capability {
  int number;
  const char* name;
  const char* why;
};

// What lrpd uses: see service/lrpd.service for the same list.
const std::vector<Capability>& required_capabilities();
// Empty when the process has every one in its effective set; else their names.
std::vector<std::string> missing_capabilities();

}  // namespace lrp::service
