// promtool test scenarios: input series that stay healthy, then cross an
// alert's limits, and the alerts expected to fire. An alert names its
// scenario (AlertRule::scenario); the shapes below are shared by alerts that
// look alike (a filesystem ratio, a component gauge, a timestamp's age).
// Every number comes from the alert's own limits.
//
// Thread safety: pure functions; a TestFixture is immutable once built.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "stemedb/config/config.h"
#include "stemedb/rulegen/rules.h"

namespace stemedb::rulegen {

using Labels = std::map<std::string, std::string>;

inline constexpr int kLeadIn = 5;  // healthy samples (minutes) first
inline constexpr int kTail = 6;    // samples after the last evaluation
inline constexpr double kFsSize = 1099511627776.0;  // 1 TiB
inline constexpr double kFsFiles = 1000000.0;
inline constexpr const char* kRw = "db-1:9101";        // writable: fires
inline constexpr const char* kRo = "db-2:9101";        // read-only: silent
inline constexpr const char* kNoInodes = "db-3:9101";  // files = 0: silent
inline constexpr const char* kBare = "db-4:9101";      // no reclaimable series
inline constexpr const char* kDecoy = "decoy";  // a component no alert selects

// One run of promtool's expanding notation: start, start+step, ... (count
// values).
struct Phase {
  double start;
  double step;
  int count;
  bool missing = false;  // `count` samples never scraped ("_xN")
};

struct Series {
  std::string metric;
  Labels labels;
  std::vector<Phase> phases;

  std::string Notation() const;  // "1+0x4 5+0x10"
  double At(int index) const;    // the value at sample `index`
};

struct Expected {
  Labels labels;  // the series labels the alert's expression yields
  double value;
  // Text the description gains from `query` actions (the reclaimable
  // bytes), appended to what RenderAlertTemplate makes of the rest.
  std::string queried;
};

struct Scenario {
  std::string title;
  int start = kLeadIn;  // first evaluation index where the condition holds
  std::vector<Series> series;
  // The firing alerts at evaluation index k >= start.
  std::function<std::vector<Expected>(int k)> expect;
};

// What every scenario needs to know besides the alert: the filesystem
// metrics and labels, the job, and how long the scenario runs.
class TestFixture {
 public:
  explicit TestFixture(const Config& config);

  const FilesystemMetrics& fs() const { return fs_; }
  const std::string& job() const { return job_; }
  // Labels of one filesystem's series (the node_exporter selector's, or the
  // exporter's job) with this instance.
  Labels Fs(const char* instance) const;
  // The same with the exporter's job, for exporter metrics.
  Labels ExporterFs(const char* instance) const;
  Labels Comp(const std::string& component, const char* instance = kRw) const;
  // Evaluations (at 1m) until an alert pending since index i fires.
  static int ForSteps(const Duration& d);
  // Samples a scenario with the alert's `for` needs after its start.
  static int SamplesAfter(const AlertRule& a) {
    return kTail + ForSteps(a.for_duration);
  }

 private:
  FilesystemMetrics fs_;
  std::string job_;
  Labels fs_labels_;
};

// Series helpers.
Series Steady(const std::string& metric, const Labels& labels, double healthy,
              double crossing, int start, int total);
Series Constant(const std::string& metric, const Labels& labels, double v,
                int total);
// A timestamp that is "now" (age 0) until `start`, then the constant `then`.
Series Timestamp(const std::string& metric, const Labels& labels, double then,
                 int start, int total);
double Time(int k);  // seconds at evaluation k

// For an alert with a description_query: adds the reclaimable series (of
// `metric`: bytes or entries) and cleanup rule info of a few rules to
// `instance`'s filesystem, one of them on another filesystem and one at 0,
// and returns the text the query part of the description renders to.
std::string AddReclaimable(const TestFixture& f, std::string_view metric,
                           const char* instance, int total,
                           std::vector<Series>* series);
Labels With(Labels labels, const std::string& k, const std::string& v);

// The shapes. Each reads the limits named in its comment.
namespace scenarios {
// avail/size below limit "ratio"; a read-only filesystem stays silent.
Scenario DiskAvailBelow(const TestFixture& f, const AlertRule& a);
// 1 - avail/size above limit "ratio".
Scenario DiskUsedAbove(const TestFixture& f, const AlertRule& a);
// files_free/files below "ratio"; silent read-only and where files = 0.
Scenario InodesFreeBelow(const TestFixture& f, const AlertRule& a);
// avail falling to 0 within "horizon_seconds" at the rate of the last
// "lookback_seconds", below "ratio" of size; silent on a read-only twin, a
// low but flat filesystem, and a node younger than the lookback.
Scenario TimeUntilFull(const TestFixture& f, const AlertRule& a);
// The same after a day of history, also below the day before's lowest by
// "daily_low_margin" of size; silent on a twin that dipped as low then.
Scenario TimeUntilFullBelowDailyLow(const TestFixture& f, const AlertRule& a);
// The same on files_free of files.
Scenario InodesTimeUntilFull(const TestFixture& f, const AlertRule& a);
// A per-filesystem flag raised (readonly 0 -> 1, stat_success 1 -> 0, by
// the alert's expression); another filesystem keeps it healthy.
Scenario FilesystemFlag(const TestFixture& f, const AlertRule& a);
// time() - oldest segment timestamp above "seconds"; decoy component.
Scenario OldestSegmentAge(const TestFixture& f, const AlertRule& a);
// time() - newest segment timestamp above "seconds".
Scenario NewestSegmentAge(const TestFixture& f, const AlertRule& a);
// segments above "count".
Scenario SegmentCountAbove(const TestFixture& f, const AlertRule& a);
// no segment seen for "seconds" on a component watched that long; silent
// on a new node and where a backup appears and leaves daily (off-host).
Scenario NoSegmentsOnOldNode(const TestFixture& f, const AlertRule& a);
// component bytes / its filesystem's size above "ratio" where another
// component shares the filesystem; silent on a volume of its own.
Scenario FilesystemShareAbove(const TestFixture& f, const AlertRule& a);
// bytes above "max_bytes", or files above "max_files".
Scenario TmpAccumulating(const TestFixture& f, const AlertRule& a);
// up == 0.
Scenario ExporterDown(const TestFixture& f, const AlertRule& a);
// config_last_reload_successful == 0.
Scenario ReloadFailed(const TestFixture& f, const AlertRule& a);
// unaccounted entries > 0 for one component and reason.
Scenario Unaccounted(const TestFixture& f, const AlertRule& a);
// absent(up{job}).
Scenario ExporterAbsent(const TestFixture& f, const AlertRule& a);
// scan_success == 0.
Scenario ScanFailing(const TestFixture& f, const AlertRule& a);
// time() - last scan success above "seconds".
Scenario ScanStale(const TestFixture& f, const AlertRule& a);
// reclaimable bytes summed per filesystem / its size above "ratio"; rules
// on another filesystem and a filesystem below the share stay silent.
Scenario ReclaimablePiling(const TestFixture& f, const AlertRule& a);
}  // namespace scenarios

}  // namespace stemedb::rulegen
