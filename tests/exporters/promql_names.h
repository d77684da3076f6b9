// Just enough PromQL reading for the dashboard tests: which lrp metric names
// and which label names an expression uses.
#pragma once

#include <set>
#include <string>

#include "exporters/family_specs.h"

namespace lrp::test {

struct PromqlNames {
  std::set<std::string> metrics;   // identifiers starting with lrp_
  std::set<std::string> labels;    // in matchers and in by/without clauses
  std::set<std::string> grouping;  // in by clauses
};
PromqlNames promql_names(const std::string& expr);

// A series name's family: histograms expose NAME_bucket, NAME_sum and NAME_count.
struct FamilyRef {
  const exporters::FamilySpec* spec = nullptr;
  bool bucket = false;
};
FamilyRef family_of(const std::string& series_name);

// The label names of a Grafana legend format ("{{app}} {{reason}}").
std::set<std::string> legend_labels(const std::string& legend);

// Grafana's $__rate_interval and $interface, filled in.
std::string expand_grafana_variables(std::string expr, const std::string& window,
                                     const std::string& interface_regex);

}  // namespace lrp::test
