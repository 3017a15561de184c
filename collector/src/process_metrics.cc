#include "stemedb/collector/process_metrics.h"

#include <dirent.h>
#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <vector>

#include "stemedb/config/metrics.h"

namespace stemedb::exporter {
namespace {

// The whole of a small procfs file; empty when unreadable.
std::string ReadSmallFile(const char* path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

double BootTimeSeconds() {
  std::istringstream stat(ReadSmallFile("/proc/stat"));
  std::string word;
  while (stat >> word) {
    if (word == "btime") {
      double btime = 0;
      stat >> btime;
      return btime;
    }
  }
  return 0;
}

double CountOpenFds() {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return 0;
  double n = 0;
  while (const dirent* e = readdir(dir)) {
    if (e->d_name[0] != '.') ++n;
  }
  closedir(dir);
  return n - 1;  // the descriptor of the listing itself
}

// A family of one unlabelled series, as the table defines it.
prometheus::MetricFamily OneValue(const metrics::Family& def, double value) {
  prometheus::MetricFamily f;
  f.name = std::string(def.name);
  f.help = metrics::FullHelp(def);
  prometheus::ClientMetric m;
  if (def.type == metrics::Type::kCounter) {
    f.type = prometheus::MetricType::Counter;
    m.counter.value = value;
  } else {
    f.type = prometheus::MetricType::Gauge;
    m.gauge.value = value;
  }
  f.metric.push_back(std::move(m));
  return f;
}

}  // namespace

bool ReadProcessStats(ProcessStats* out) {
  const std::string stat = ReadSmallFile("/proc/self/stat");
  // The command name (field 2) is in parentheses and may hold spaces.
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) return false;
  std::istringstream fields(stat.substr(close + 2));
  // Fields from 3 (state) on; we need utime (14), stime (15),
  // starttime (22), vsize (23), rss (24).
  std::vector<std::string> f;
  std::string word;
  while (f.size() < 22 && fields >> word) f.push_back(word);
  if (f.size() < 22) return false;
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  ProcessStats s;
  s.cpu_seconds = (std::stod(f[14 - 3]) + std::stod(f[15 - 3])) / ticks;
  s.start_time_seconds = BootTimeSeconds() + std::stod(f[22 - 3]) / ticks;
  s.virtual_bytes = std::stod(f[23 - 3]);
  s.resident_bytes = std::stod(f[24 - 3]) * page;
  s.open_fds = CountOpenFds();
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    s.max_fds = limit.rlim_cur == RLIM_INFINITY
                    ? -1
                    : static_cast<double>(limit.rlim_cur);
  }
  *out = s;
  return true;
}

void AppendProcessMetrics(std::string* text) {
  ProcessStats s;
  try {
    if (!ReadProcessStats(&s)) return;
  } catch (const std::exception&) {  // std::stod on a malformed stat line
    return;
  }
  namespace m = stemedb::metrics;
  std::vector<prometheus::MetricFamily> families = {
      OneValue(m::Get(m::kProcessCpuSecondsTotal), s.cpu_seconds),
      OneValue(m::Get(m::kProcessMaxFds), s.max_fds),
      OneValue(m::Get(m::kProcessOpenFds), s.open_fds),
      OneValue(m::Get(m::kProcessResidentMemoryBytes), s.resident_bytes),
      OneValue(m::Get(m::kProcessStartTimeSeconds), s.start_time_seconds),
      OneValue(m::Get(m::kProcessVirtualMemoryBytes), s.virtual_bytes),
  };
  *text += prometheus::TextSerializer().Serialize(families);
}

}  // namespace stemedb::exporter
