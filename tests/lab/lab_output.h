// Reading what lrp-lab wrote: results.csv as rows of named fields, and the
// checks that the outputs are complete and sane.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace lrp::test {

using CsvRow = std::map<std::string, std::string>;

// Parses a CSV file (RFC 4180 quoting); false with the reason on error.
bool read_csv(const std::string& path, std::vector<CsvRow>* rows, std::string* why);
bool is_png(const std::string& path, std::string* why);
std::string read_text(const std::string& path);

}  // namespace lrp::test
