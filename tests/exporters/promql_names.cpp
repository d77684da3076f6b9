#include "tests/exporters/promql_names.h"

#include <cctype>

namespace lrp::test {

namespace {

bool ident_start(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_';
}
bool ident_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == ':';
}

size_t skip_string(const std::string& s, size_t i) {
  const char quote = s[i++];
  while (i < s.size() && s[i] != quote) i += s[i] == '\\' ? 2 : 1;
  return i + 1;
}

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
    s.replace(at, from.size(), to);
}

}  // namespace

PromqlNames promql_names(const std::string& expr) {
  PromqlNames out;
  enum { Top, Matchers, Clause } state = Top;
  bool clause_is_by = false;
  std::string previous;  // the last identifier at the top level
  for (size_t i = 0; i < expr.size();) {
    const char c = expr[i];
    if (c == '"' || c == '\'' || c == '`') {
      i = skip_string(expr, i);
    } else if (c == '{' && state == Top) {
      state = Matchers;
      ++i;
    } else if (c == '}' && state == Matchers) {
      state = Top;
      ++i;
    } else if (c == '[' && state == Top) {
      i = expr.find(']', i);
      i = i == std::string::npos ? expr.size() : i + 1;
    } else if (c == '(' && state == Top && (previous == "by" || previous == "without")) {
      state = Clause;
      clause_is_by = previous == "by";
      previous.clear();
      ++i;
    } else if (c == ')' && state == Clause) {
      state = Top;
      ++i;
    } else if (ident_start(c)) {
      size_t end = i;
      while (end < expr.size() && ident_char(expr[end])) ++end;
      const std::string word = expr.substr(i, end - i);
      if (state == Matchers) {
        out.labels.insert(word);
      } else if (state == Clause) {
        out.labels.insert(word);
        if (clause_is_by) out.grouping.insert(word);
      } else {
        if (word.rfind("lrp_", 0) == 0) out.metrics.insert(word);
        previous = word;
      }
      i = end;
    } else {
      if (!std::isspace(static_cast<unsigned char>(c))) previous.clear();
      ++i;
    }
  }
  return out;
}

FamilyRef family_of(const std::string& series_name) {
  if (const auto* spec = exporters::find_family_spec(series_name)) return {spec, false};
  for (const char* suffix : {"_bucket", "_sum", "_count"}) {
    const std::string s = suffix;
    if (series_name.size() <= s.size() || !series_name.ends_with(s)) continue;
    const auto* spec =
        exporters::find_family_spec(series_name.substr(0, series_name.size() - s.size()));
    if (spec != nullptr && spec->type == prometheus::MetricType::Histogram)
      return {spec, s == "_bucket"};
  }
  return {};
}

std::set<std::string> legend_labels(const std::string& legend) {
  std::set<std::string> out;
  for (size_t open = legend.find("{{"); open != std::string::npos;
       open = legend.find("{{", open + 2)) {
    const size_t close = legend.find("}}", open);
    if (close == std::string::npos) break;
    std::string name = legend.substr(open + 2, close - open - 2);
    while (!name.empty() && std::isspace(static_cast<unsigned char>(name.back()))) name.pop_back();
    while (!name.empty() && std::isspace(static_cast<unsigned char>(name.front())))
      name.erase(0, 1);
    out.insert(name);
  }
  return out;
}

std::string expand_grafana_variables(std::string expr, const std::string& window,
                                     const std::string& interface_regex) {
  replace_all(expr, "$__rate_interval", window);
  replace_all(expr, "${interface}", interface_regex);
  replace_all(expr, "$interface", interface_regex);
  return expr;
}

}  // namespace lrp::test
