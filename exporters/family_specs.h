// Every metric family lrp exports, with its type and help text: the one list
// that the exporter, the README and the dashboard tests agree on.
#pragma once

#include <prometheus/metric_type.h>

#include <span>
#include <string_view>

namespace lrp::exporters {

// Which labels a family's samples carry, beyond the ones named in `extra`.
enum class Scope {
  Interface,  // interface
  Engine,     // interface, queue
  App,        // interface, queue, app
  Socket,     // interface, queue, app (with a scheduler), socket, slot
  Mixed,      // per socket or per application, depending on the label values
};

struct FamilySpec {
  std::string_view name;
  prometheus::MetricType type;
  Scope scope;
  std::string_view extra_labels;  // comma-separated, e.g. "reason,detail"
  std::string_view help;
};

std::span<const FamilySpec> family_specs();
// nullptr for a name that is not in the list.
const FamilySpec* find_family_spec(std::string_view name);

}  // namespace lrp::exporters
