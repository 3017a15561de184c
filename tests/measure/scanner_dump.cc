// Test and benchmark tool: runs ScanComponents once and prints the results as
// JSON, so scripts can compare the scanner against make-tree.py's truth and
// du without the exporter around it.
//
// Usage: scanner_dump [--threads N] [--max-depth N] [--all-filesystems]
//                     NAME=PATH[=PATTERN]...
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "stemedb/measure/walk.h"

namespace {

int Usage() {
  std::cerr << "usage: scanner_dump [--threads N] [--max-depth N] "
               "[--all-filesystems] NAME=PATH[=PATTERN]...\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  using stemedb::measure::ComponentSpec;
  using stemedb::measure::ErrorReason;
  stemedb::measure::WalkOptions options;
  std::vector<ComponentSpec> specs;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if ((arg == "--threads" || arg == "--max-depth") && i + 1 < argc) {
      int value = std::atoi(argv[++i]);
      (arg == "--threads" ? options.threads : options.max_depth) = value;
    } else if (arg == "--all-filesystems") {
      options.one_filesystem = false;
    } else if (size_t eq = arg.find('='); eq != std::string::npos && eq > 0) {
      ComponentSpec spec;
      spec.name = arg.substr(0, eq);
      std::string rest = arg.substr(eq + 1);
      size_t eq2 = rest.find('=');
      spec.path = rest.substr(0, eq2);
      if (eq2 != std::string::npos) spec.segment_pattern = rest.substr(eq2 + 1);
      specs.push_back(std::move(spec));
    } else {
      return Usage();
    }
  }
  if (specs.empty()) return Usage();

  const auto start = std::chrono::steady_clock::now();
  std::vector<stemedb::measure::ComponentStats> results =
      stemedb::measure::ScanComponents(specs, options);
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();

  nlohmann::ordered_json components = nlohmann::ordered_json::object();
  for (const auto& s : results) {
    nlohmann::ordered_json errors = nlohmann::ordered_json::object();
    for (int r = 0; r < stemedb::measure::kErrorReasonCount; ++r) {
      errors[std::string(stemedb::measure::ReasonName(
          static_cast<ErrorReason>(r)))] = s.errors[r];
    }
    nlohmann::ordered_json c = {
        {"present", s.present},
        {"complete", s.complete},
        {"device", static_cast<uint64_t>(s.device)},
        {"allocated_bytes", s.allocated_bytes},
        {"apparent_bytes", s.apparent_bytes},
        {"files", s.files},
        {"directories", s.directories},
        {"has_segments", s.has_segments},
        {"errors", errors},
        {"duration_seconds", s.duration_seconds},
    };
    if (s.has_segments) {
      c["segments"] = {{"count", s.segments.count},
                       {"allocated_bytes", s.segments.allocated_bytes},
                       {"oldest_mtime", s.segments.oldest_mtime},
                       {"newest_mtime", s.segments.newest_mtime}};
    }
    components[s.name] = std::move(c);
  }
  nlohmann::ordered_json out = {{"wall_seconds", wall},
                                {"components", components}};
  std::cout << out.dump(2) << "\n";
  return 0;
}
