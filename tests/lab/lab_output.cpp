#include "tests/lab/lab_output.h"

#include <fstream>
#include <sstream>

namespace lrp::test {

namespace {

// Splits one CSV record; quoted fields may hold commas and doubled quotes.
bool split_record(const std::string& line, std::vector<std::string>* out) {
  out->clear();
  std::string field;
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        field += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      out->push_back(field);
      field.clear();
    } else if (c != '\r') {
      field += c;
    }
  }
  out->push_back(field);
  return !quoted;
}

}  // namespace

bool read_csv(const std::string& path, std::vector<CsvRow>* rows, std::string* why) {
  std::ifstream in(path);
  if (!in) {
    *why = "cannot open " + path;
    return false;
  }
  std::string line;
  std::vector<std::string> header, fields;
  if (!std::getline(in, line) || !split_record(line, &header) || header.size() < 2) {
    *why = path + ": no header";
    return false;
  }
  for (int n = 2; std::getline(in, line); ++n) {
    if (!split_record(line, &fields) || fields.size() != header.size()) {
      *why = path + ":" + std::to_string(n) + ": " + std::to_string(fields.size()) +
             " fields, header has " + std::to_string(header.size());
      return false;
    }
    CsvRow row;
    for (size_t i = 0; i < header.size(); ++i) row[header[i]] = fields[i];
    rows->push_back(std::move(row));
  }
  return true;
}

bool is_png(const std::string& path, std::string* why) {
  const std::string text = read_text(path);
  static const std::string kSignature = "\x89PNG\r\n\x1a\n";
  if (text.compare(0, kSignature.size(), kSignature) != 0) {
    *why = path + " is missing or not a PNG";
    return false;
  }
  if (text.size() < 10'000) {
    *why = path + " is too small to hold a plot (" + std::to_string(text.size()) + " bytes)";
    return false;
  }
  return true;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace lrp::test
