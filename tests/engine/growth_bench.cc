// Memory and CPU of GrowthHistory on a real tree, with a driven clock:
//   growth_bench ROOT|synthetic:N [MINUTES]
// walks ROOT once (or makes N directory records in memory) (per-directory
// records, as the exporter keeps them), then feeds one collection a minute for
// MINUTES (default 1500: both rings full) while 200 directories chosen at
// random grow each minute, and prints the RSS before the history existed and
// once it is full, and the CPU time per collection. Not a test: run by hand
// (docs/diagnose.md gives figures).
#include <time.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "stemedb/engine/growth_history.h"

namespace {

long RssKiB() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return -1;
}

double CpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + ts.tv_nsec / 1e9;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: growth_bench ROOT|synthetic:N [MINUTES]\n");
    return 2;
  }
  const int minutes = argc > 2 ? std::atoi(argv[2]) : 1500;
  std::vector<stemedb::measure::DirectoryRecord> records;
  if (std::string(argv[1]).rfind("synthetic:", 0) == 0) {
    // synthetic:N: N directories in memory, no walk (the tracked cap).
    const long n = std::atol(argv[1] + 10);
    for (long i = 0; i < n; ++i) {
      auto& r = records.emplace_back();
      r.path = "/var/lib/stemedb/data/db/shard-" + std::to_string(i % 1000) +
               "/part-" + std::to_string(i);
      r.cumulative.allocated_bytes = 4096 * static_cast<uint64_t>(i % 977);
    }
  } else {
    stemedb::measure::WalkOptions options;
    options.record_directories = true;
    auto stats =
        stemedb::measure::ScanComponents({{"db", argv[1], "", {}}}, options);
    records = *stats[0].directory_list;
  }
  const long before = RssKiB();
  stemedb::exporter::GrowthHistory history;
  std::mt19937_64 random(1);
  double cpu = 0;
  double worst = 0;
  for (int m = 0; m < minutes; ++m) {
    for (int k = 0; k < 200; ++k) {
      records[random() % records.size()].cumulative.allocated_bytes +=
          4096 * (1 + random() % 64);
    }
    const double start = CpuSeconds();
    history.Observe("db", records, 1.7e9 + 60.0 * m);
    const double spent = CpuSeconds() - start;
    cpu += spent;
    worst = std::max(worst, spent);
  }
  const double start = CpuSeconds();
  const auto report = history.Report();
  const double report_cpu = CpuSeconds() - start;
  const long after = RssKiB();
  std::printf(
      "directories %zu, collections %d, tracked %zu\n"
      "rss before %ld KiB, full %ld KiB, delta %ld KiB\n"
      "cpu per collection: mean %.1f ms, worst %.1f ms; report %.1f ms\n"
      "top 1h: %s\n",
      records.size(), minutes, history.Tracked(), before, after, after - before,
      1000 * cpu / minutes, 1000 * worst, 1000 * report_cpu,
      report.windows[0].top.empty() ? "-"
                                    : report.windows[0].top[0].path.c_str());
  return 0;
}
