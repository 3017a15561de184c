// metrics_doc: writes docs/metrics.md, the user's reference of every metric
// family, from the metrics table (stemedb/config/metrics.h). Built with the
// project, not installed; the ctest metrics_doc_check fails when the
// committed file differs from what it writes.
//
//   metrics_doc                 print the Markdown
//   metrics_doc --out FILE      write it to FILE (atomically)
//   metrics_doc --check FILE    exit 1 when FILE differs from it
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <string_view>

#include "stemedb/base/output_file.h"
#include "stemedb/config/metric_names.h"
#include "stemedb/config/metrics.h"

namespace {

namespace m = stemedb::metrics;

constexpr std::string_view kRegenerate =
    "cmake --build build --target metrics_doc && "
    "build/config/metrics_doc --out docs/metrics.md";

// A table cell: a '|' would end it.
std::string Cell(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '|') out += '\\';
    out += c;
  }
  return out;
}

std::string_view Cached(m::Freshness freshness) {
  switch (freshness) {
    case m::Freshness::kCachedWalk:
      return "walk";
    case m::Freshness::kCachedStatfs:
      return "statfs";
    case m::Freshness::kLive:
      break;
  }
  return "no";
}

std::string Row(const m::Family& f) {
  std::string labels;
  for (std::string_view l : m::Labels(f)) {
    labels +=
        std::string(labels.empty() ? "" : ", ") + "`" + std::string(l) + "`";
  }
  std::string help(f.help);
  if (!f.notes.empty()) help += " " + std::string(f.notes);
  return "| `" + std::string(f.name) + "` | " +
         std::string(m::TypeName(f.type)) + " | " + labels + " | " +
         std::string(Cached(f.freshness)) + " | " + Cell(help) + " |\n";
}

std::string Markdown() {
  std::ostringstream out;
  out << "<!-- Generated from config/include/stemedb/config/metrics.h by "
         "metrics_doc; do not edit. Regenerate: "
      << kRegenerate << " -->\n"
      << "# Metrics\n\n"
      << "Every metric family `stemedb_disk_exporter` serves on `/metrics`; "
         "`--once` prints the same but the `process_*` families. Labels are "
         "small fixed sets, never one per file. A series is built fresh from "
         "the latest result on every rendering: a removed component or "
         "filesystem leaves no stale series.\n\n"
      << "Walks and statfs run in the background and a scrape never waits "
         "for them. The column *cached* says how old a value may be: *walk*, "
         "as of the last complete walk (one every `scan.interval`, or within "
         "seconds in watch mode); *statfs*, as of the last statfs (every "
         "`min(scan.interval, 10s)`); *no*, as of the rendering. The HELP "
         "text of a cached family says so.\n";
  for (const m::GroupDoc& g : m::kGroups) {
    out << "\n## " << g.title << "\n\n"
        << g.intro << "\n\n"
        << "| metric | type | labels | cached | help |\n"
        << "|---|---|---|---|---|\n";
    for (const m::Family& f : m::kFamilies) {
      if (f.group == g.group) out << Row(f);
    }
  }
  out << "\n## Recording rules\n\n"
      << "Written by `stemedb_rulegen` for the dashboard (the alerts compute "
         "their ratios inline; the fill predictions and the dashboard read "
         "the time-until-full records, which are absent while a filesystem "
         "is not filling or has less history than the prediction's "
         "lookback):\n\n";
  for (std::string_view r :
       {m::kRecordFilesystemUsedRatio, m::kRecordFilesystemAvailRatio,
        m::kRecordFilesystemInodesFreeRatio, m::kRecordComponentGrowthRate,
        m::kRecordFilesystemTimeUntilFull,
        m::kRecordFilesystemInodesTimeUntilFull}) {
    out << "- `" << r << "`\n";
  }
  return out.str();
}

int Check(const std::string& path, const std::string& want) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream have;
  have << in.rdbuf();
  if (in && have.str() == want) return 0;
  std::cerr << "metrics_doc: " << path
            << " differs from the metrics table; regenerate it: " << kRegenerate
            << "\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string text = Markdown();
  const std::string flag = argc > 1 ? argv[1] : "";
  if (argc == 1) {
    std::cout << text;
    return 0;
  }
  if (argc == 3 && flag == "--check") return Check(argv[2], text);
  if (argc == 3 && flag == "--out") {
    if (stemedb::Status err = stemedb::WriteOutput(argv[2], text)) {
      std::cerr << "metrics_doc: " << err->ToString() << "\n";
      return 1;
    }
    return 0;
  }
  std::cerr << "usage: metrics_doc [--out FILE | --check FILE]\n";
  return 2;
}
