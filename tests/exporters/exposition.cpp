#include "tests/exporters/exposition.h"

#include <cstdlib>
#include <sstream>

namespace lrp::test {

std::vector<const Sample*> Exposition::find(const std::string& name,
                                            const std::map<std::string, std::string>& match) const {
  std::vector<const Sample*> out;
  for (const Sample& s : samples) {
    if (s.name != name) continue;
    bool all = true;
    for (const auto& [k, v] : match) {
      auto it = s.labels.find(k);
      all = all && it != s.labels.end() && it->second == v;
    }
    if (all) out.push_back(&s);
  }
  return out;
}

std::optional<double> Exposition::sum(const std::string& name,
                                      const std::map<std::string, std::string>& match) const {
  auto found = find(name, match);
  if (found.empty()) return std::nullopt;
  double total = 0;
  for (const Sample* s : found) total += s->value;
  return total;
}

namespace {

// name{a="x",b="y"} value
bool parse_sample(const std::string& line, Sample* s) {
  size_t i = line.find_first_of("{ ");
  if (i == std::string::npos || i == 0) return false;
  s->name = line.substr(0, i);
  if (line[i] == '{') {
    ++i;
    while (i < line.size() && line[i] != '}') {
      const size_t eq = line.find('=', i);
      if (eq == std::string::npos || eq + 1 >= line.size() || line[eq + 1] != '"') return false;
      const std::string key = line.substr(i, eq - i);
      std::string value;
      size_t j = eq + 2;
      for (; j < line.size() && line[j] != '"'; ++j) {
        if (line[j] == '\\' && j + 1 < line.size()) {
          ++j;
          value += line[j] == 'n' ? '\n' : line[j];
        } else {
          value += line[j];
        }
      }
      if (j >= line.size()) return false;
      s->labels[key] = value;
      i = j + 1;
      if (i < line.size() && line[i] == ',') ++i;
    }
    if (i >= line.size()) return false;
    ++i;
  }
  std::istringstream rest(line.substr(i));
  std::string value;
  if (!(rest >> value)) return false;
  char* end = nullptr;
  s->value = std::strtod(value.c_str(), &end);
  return end != value.c_str();
}

}  // namespace

std::optional<Exposition> parse_exposition(const std::string& text, std::string* error) {
  Exposition e;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    if (line[0] == '#') {
      std::istringstream words(line);
      std::string hash, kind, name, type;
      words >> hash >> kind >> name >> type;
      if (kind == "TYPE") e.types[name] = type;
      continue;
    }
    Sample s;
    if (!parse_sample(line, &s)) {
      if (error != nullptr) *error = "not a sample: " + line;
      return std::nullopt;
    }
    e.samples.push_back(std::move(s));
  }
  return e;
}

}  // namespace lrp::test
