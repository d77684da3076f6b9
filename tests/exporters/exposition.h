// Reads the Prometheus text exposition format back into samples, so tests can
// check values by family and labels.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace lrp::test {

struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

struct Exposition {
  std::vector<Sample> samples;
  std::map<std::string, std::string> types;  // family name -> counter, gauge, histogram...

  // Samples of `name` whose labels include every pair of `match`.
  std::vector<const Sample*> find(const std::string& name,
                                  const std::map<std::string, std::string>& match = {}) const;
  // Sum of those samples' values; nullopt when there are none.
  std::optional<double> sum(const std::string& name,
                            const std::map<std::string, std::string>& match = {}) const;
};

// Fails (nullopt, *error set) on a line that is not a comment or a sample.
std::optional<Exposition> parse_exposition(const std::string& text, std::string* error);

}  // namespace lrp::test
