#include "stemedb/diagnose/diagnosis.h"

#include <algorithm>
#include <cctype>
#include <map>

#include "format.h"

namespace stemedb::diagnose {
namespace {

using detail::HumanBytes;
using detail::Percent;

// Worse first: critical, unknown, warning, ok (a check that cannot tell
// outranks a warning, never a critical).
int Rank(Status s) {
  switch (s) {
    case Status::kCritical:
      return 3;
    case Status::kUnknown:
      return 2;
    case Status::kWarning:
      return 1;
    case Status::kOk:
      return 0;
  }
  return 0;
}

Status Worse(Status a, Status b) { return Rank(a) >= Rank(b) ? a : b; }

// df's Use% column ("27%"): it counts the root-reserved blocks as neither
// used nor available, unlike the alerts' 1 - avail/size.
std::string DfUse(const FilesystemNumbers& fs) {
  const uint64_t used = fs.size_bytes - std::min(fs.free_bytes, fs.size_bytes);
  const int p = detail::DfPercent(used, fs.avail_bytes);
  return p < 0 ? "-" : std::to_string(p) + "%";
}

const ComponentNumbers* FindComponent(const Numbers& n, const std::string& name,
                                      const std::string& mountpoint) {
  for (const auto& c : n.components) {
    if (c.name == name && c.present && c.mountpoint == mountpoint) return &c;
  }
  return nullptr;
}

// A verdict under construction: where in the tree it was decided, so that
// equally severe filesystems are ordered as the runbook asks.
struct Candidate {
  FilesystemVerdict verdict;
  int tree_rank = 100;  // lower: asked earlier in the tree
};

void Add(std::vector<Finding>* findings, Status s, std::string alert,
         std::string subject, std::string detail, std::string section) {
  findings->push_back({s, std::move(alert), std::move(subject),
                       std::move(detail), std::move(section)});
}

// The component findings (WAL age and count, backups, temporary files),
// which belong to no one filesystem's capacity. Each is its alert's
// expression on the same numbers, without `for` (BackupsMissing and
// WALTooManySegments name what of theirs only Prometheus' history shows).
void WalFindings(const Numbers& n, const Limits& l, const ComponentNumbers& c,
                 std::vector<Finding>* out) {
  if (c.segments > 0 &&
      n.timestamp - c.oldest_segment_timestamp > l.wal_retention_seconds) {
    Add(out, Status::kWarning, "StemeDBWALRetentionExceeded", c.name,
        "oldest segment " +
            detail::Age(n.timestamp - c.oldest_segment_timestamp) +
            " old, retention " + detail::Age(l.wal_retention_seconds),
        "2");
  }
  if (static_cast<int64_t>(c.segments) > l.wal_max_segments) {
    Add(out, Status::kWarning, "StemeDBWALTooManySegments", c.name,
        std::to_string(c.segments) + " segments, more than " +
            std::to_string(l.wal_max_segments) +
            "; the alert is silent while the WAL drains a backlog (" +
            Percent(l.wal_shrinking_ratio) + " fewer segments than " +
            detail::Age(l.wal_shrinking_lookback_seconds) +
            " before), which only Prometheus' history shows",
        "2");
  }
}

void BackupFindings(const Numbers& n, const Limits& l,
                    const ComponentNumbers& c, std::vector<Finding>* out) {
  if (c.segments == 0) {
    Add(out, Status::kWarning, "StemeDBBackupsMissing", c.name,
        "no backup now; the alert fires once none has been seen for " +
            detail::Age(l.backup_max_age_seconds) +
            " on a component watched that long (one shipped off-host "
            "counts), which only Prometheus' history shows",
        "1");
    return;
  }
  const double newest_age = n.timestamp - c.newest_segment_timestamp;
  const double oldest_age = n.timestamp - c.oldest_segment_timestamp;
  if (newest_age > l.backup_max_age_seconds) {
    Add(out, Status::kWarning, "StemeDBBackupTooOld", c.name,
        "newest backup " + detail::Age(newest_age) + " old, more than " +
            detail::Age(l.backup_max_age_seconds),
        "1");
  }
  if (static_cast<int64_t>(c.segments) > l.backup_max_count) {
    Add(out, Status::kOk, "StemeDBBackupsBeyondRetention", c.name,
        std::to_string(c.segments) + " backups, more than " +
            std::to_string(l.backup_max_count),
        "");
  }
  if (oldest_age > l.backup_retention_seconds) {
    Add(out, Status::kOk, "StemeDBBackupsOlderThanRetention", c.name,
        "oldest backup " + detail::Age(oldest_age) + " old, retention " +
            detail::Age(l.backup_retention_seconds),
        "");
  }
}

void TmpFindings(const Limits& l, const ComponentNumbers& c,
                 std::vector<Finding>* out) {
  if (static_cast<int64_t>(c.allocated_bytes) > l.tmp_max_bytes ||
      static_cast<int64_t>(c.files) > l.tmp_max_files) {
    Add(out, Status::kOk, "StemeDBTmpFilesAccumulating", c.name,
        HumanBytes(c.allocated_bytes) + " in " + std::to_string(c.files) +
            " files, limits " +
            HumanBytes(static_cast<uint64_t>(l.tmp_max_bytes)) + " or " +
            std::to_string(l.tmp_max_files) + " files",
        "4");
  }
}

void ComponentFindings(const Numbers& n, const Limits& l,
                       std::vector<Finding>* out) {
  for (const auto& c : n.components) {
    if (!c.scan_success && l.families.scan) {
      Add(out, Status::kWarning, "StemeDBDiskScanFailing", c.name,
          "the last walk of " + c.path +
              (c.present ? " stopped before the end" : " found no directory"),
          "");
    }
    if (!c.present) continue;
    if (c.name == l.wal_component && c.has_segments && l.families.wal) {
      WalFindings(n, l, c, out);
    }
    if (c.name == l.backups_component && c.has_segments && l.families.backups) {
      BackupFindings(n, l, c, out);
    }
    if (c.name == l.tmp_component && l.families.tmp) TmpFindings(l, c, out);
  }
}

// What one filesystem's verdict is computed from.
struct Measures {
  double size = 0;
  double avail_ratio = 0;
  double used_ratio = 0;
  bool has_inodes = false;
  double inode_free_ratio = 1.0;
  bool space_short = false;
  const ComponentNumbers* wal = nullptr;
  const ComponentNumbers* db = nullptr;
  double wal_share = 0;
  double db_share = 0;
  // Another component lives on the WAL's filesystem: on a volume of its
  // own the WAL's share is no finding (StemeDBWALFillingFilesystem).
  bool wal_shares = false;
  bool wal_aged = false;                  // a component finding names this WAL
  std::map<std::string, uint64_t> freed;  // by section, measured rules only
  uint64_t freed_total = 0;
  bool measured_rules = false;  // a cleanup rule was measured here
};

// REQUIRES: fs.have_capacity and fs.size_bytes > 0.
Measures Measure(const Numbers& n, const Limits& l, const FilesystemNumbers& fs,
                 const std::vector<Finding>& component_findings) {
  Measures m;
  const std::string& mp = fs.mountpoint;
  m.size = static_cast<double>(fs.size_bytes);
  m.avail_ratio = static_cast<double>(fs.avail_bytes) / m.size;
  m.used_ratio = 1 - m.avail_ratio;
  m.has_inodes = fs.files > 0;
  m.inode_free_ratio =
      m.has_inodes ? static_cast<double>(fs.files_free) / fs.files : 1.0;
  m.space_short = m.avail_ratio < l.disk_warning_avail_ratio;
  m.wal = FindComponent(n, l.wal_component, mp);
  m.db = FindComponent(n, l.db_component, mp);
  m.wal_share = m.wal ? m.wal->allocated_bytes / m.size : 0;
  for (const auto& c : n.components) {
    m.wal_shares = m.wal_shares || (c.present && c.mountpoint == mp &&
                                    c.name != l.wal_component);
  }
  m.db_share = m.db ? m.db->allocated_bytes / m.size : 0;
  for (const auto& f : component_findings) {
    if (m.wal && f.subject == m.wal->name) m.wal_aged = true;
  }
  // What the cleanup rules free on this filesystem, per section.
  for (const auto& r : n.rules) {
    if (r.measured && r.mountpoint == mp) m.freed[r.section] += r.bytes;
  }
  for (const auto& [section, bytes] : m.freed) m.freed_total += bytes;
  // Unmeasured rules say nothing: no "nothing to clean", no "still full".
  for (const auto& r : n.rules) {
    m.measured_rules = m.measured_rules || (r.measured && r.mountpoint == mp);
  }
  return m;
}

// The shares of the filesystem (the WAL's, what cleanup would free), whose
// alerts hold on a read-only filesystem too.
void ShareFindings(const Limits& l, const std::string& mp, const Measures& m,
                   std::vector<Finding>* findings) {
  if (l.families.wal && m.wal && m.wal_shares &&
      m.wal_share > l.most_space_share) {
    Add(findings, Status::kWarning, "StemeDBWALFillingFilesystem", m.wal->name,
        Percent(m.wal_share) + " of " + mp + ", more than " +
            Percent(l.most_space_share),
        "2");
  }
  const double freed_share = static_cast<double>(m.freed_total) / m.size;
  if (l.families.cleanup && freed_share > l.reclaimable_max_share) {
    Add(findings, Status::kOk, "StemeDBCleanupNotRunning", mp,
        "the cleanup rules would free " + HumanBytes(m.freed_total) + ", " +
            Percent(freed_share) + " of " + mp + ", more than " +
            Percent(l.reclaimable_max_share),
        "");
  }
}

// The alerts that would fire on this filesystem (without their `for`).
void DiskFindings(const Limits& l, const std::string& mp, const Measures& m,
                  std::vector<Finding>* findings) {
  if (m.used_ratio > l.emergency_used_ratio) {
    Add(findings, Status::kCritical, "StemeDBDiskSpaceEmergency", mp,
        Percent(m.used_ratio) + " used, above " +
            Percent(l.emergency_used_ratio),
        "1");
  }
  // Each alert on its own threshold: a critical one fires with its warning
  // twin (Alertmanager's inhibition, not the rules, silences the warning).
  if (m.avail_ratio < l.disk_critical_avail_ratio) {
    Add(findings, Status::kCritical, "StemeDBDiskSpaceCritical", mp,
        Percent(m.avail_ratio) + " available, below " +
            Percent(l.disk_critical_avail_ratio),
        "");
  }
  if (m.space_short) {
    Add(findings, Status::kWarning, "StemeDBDiskSpaceWarning", mp,
        Percent(m.avail_ratio) + " available, below " +
            Percent(l.disk_warning_avail_ratio),
        "");
  }
}

void InodeFindings(const Limits& l, const std::string& mp, const Measures& m,
                   std::vector<Finding>* findings) {
  if (m.has_inodes && m.inode_free_ratio < l.inode_critical_free_ratio) {
    Add(findings, Status::kCritical, "StemeDBInodeExhaustionCritical", mp,
        Percent(m.inode_free_ratio) + " of inodes free, below " +
            Percent(l.inode_critical_free_ratio),
        "4");
  }
  if (m.has_inodes && m.inode_free_ratio < l.inode_warning_free_ratio) {
    Add(findings, Status::kWarning, "StemeDBInodeExhaustion", mp,
        Percent(m.inode_free_ratio) + " of inodes free, below " +
            Percent(l.inode_warning_free_ratio),
        "4");
  }
}

// The tree's questions, in the runbook's order, with their answers here.
std::vector<Step> Steps(const Limits& l, const FilesystemNumbers& fs,
                        const Measures& m) {
  auto share_detail = [&](const ComponentNumbers* comp, double share,
                          const std::string& what) {
    if (!comp) return "no " + what + " component on this filesystem";
    return HumanBytes(comp->allocated_bytes) + ", " + Percent(share) +
           " of the filesystem (limit " + Percent(l.most_space_share) + ")";
  };
  std::vector<Step> steps;
  steps.push_back({"df -h",
                   "More than " + Percent(l.emergency_used_ratio) + " used?",
                   m.used_ratio > l.emergency_used_ratio,
                   Percent(m.used_ratio) + " used (1 - avail/size, as the " +
                       "alerts count), " + HumanBytes(fs.avail_bytes) +
                       " available; df Use% " + DfUse(fs),
                   "1"});
  steps.push_back({"du -sh " + (m.wal ? m.wal->path : l.wal_component),
                   "WAL using most space?", m.wal_share > l.most_space_share,
                   share_detail(m.wal, m.wal_share, "WAL"), "2"});
  steps.push_back({"du -sh " + (m.db ? m.db->path : l.db_component),
                   "Database using most space?",
                   m.space_short && m.db_share > l.most_space_share,
                   share_detail(m.db, m.db_share, "database") +
                       (m.space_short ? "" : "; space is not short"),
                   "3"});
  steps.push_back(
      {"df -i", "Inodes exhausted?",
       m.has_inodes && m.inode_free_ratio < l.inode_warning_free_ratio,
       m.has_inodes
           ? Percent(m.inode_free_ratio) + " of " + std::to_string(fs.files) +
                 " inodes free (" + std::to_string(fs.files_free) + ")"
           : "no inode table (files 0)",
       "4"});
  steps.push_back({"cleanup rules", "Normal growth, no cleanup options?",
                   m.space_short && m.measured_rules && m.freed_total == 0,
                   m.measured_rules
                       ? "the cleanup rules would free " +
                             HumanBytes(m.freed_total) + " here"
                       : std::string("no cleanup rule measured here"),
                   "5"});
  return steps;
}

// The WAL's component findings, joined: why it is not being cleaned up.
std::string WalAgedWhy(const std::string& wal_name,
                       const std::vector<Finding>& component_findings) {
  std::string why;
  for (const auto& f : component_findings) {
    if (f.subject != wal_name) continue;
    why += (why.empty() ? "" : "; ") + f.detail;
  }
  return why;
}

// The decision: the first question of the tree that says yes.
void Decide(const Limits& l, const FilesystemNumbers& fs, const Measures& m,
            const std::vector<Finding>& component_findings, Candidate* c) {
  FilesystemVerdict& v = c->verdict;
  const std::string& mp = fs.mountpoint;
  auto freed = [&](const std::string& section) -> uint64_t {
    auto it = m.freed.find(section);
    return it == m.freed.end() ? 0 : it->second;
  };
  auto decide = [&](int rank, std::string section, std::string reason) {
    c->tree_rank = rank;
    v.section = std::move(section);
    v.reason = std::move(reason);
    v.cleanup_bytes = freed(v.section);
  };
  const std::string freed1 =
      m.freed.count("1")
          ? "; its steps would free " + HumanBytes(freed("1")) + " here"
          : "";
  if (m.used_ratio > l.emergency_used_ratio) {
    decide(1, "1",
           mp + " is " + Percent(m.used_ratio) + " used, above the " +
               Percent(l.emergency_used_ratio) + " of §1" + freed1 + ".");
  } else if (m.has_inodes && m.inode_free_ratio < l.inode_critical_free_ratio) {
    decide(2, "4",
           mp + " has " + Percent(m.inode_free_ratio) +
               " of its inodes free (" + std::to_string(fs.files_free) +
               " of " + std::to_string(fs.files) + "), below " +
               Percent(l.inode_critical_free_ratio) +
               ": no byte cleanup helps until inodes are freed.");
  } else if (m.wal_share > l.most_space_share) {
    decide(3, "2",
           "the WAL (" + m.wal->path + ") holds " + Percent(m.wal_share) +
               " of " + mp + ", more than " + Percent(l.most_space_share) +
               ".");
  } else if (m.space_short && m.db_share > l.most_space_share) {
    decide(4, "3",
           "the database (" + m.db->path + ") holds " + Percent(m.db_share) +
               " of " + mp + ", which has " + Percent(m.avail_ratio) +
               " available.");
  } else if (m.has_inodes && m.inode_free_ratio < l.inode_warning_free_ratio) {
    decide(5, "4",
           mp + " has " + Percent(m.inode_free_ratio) +
               " of its inodes free, below " +
               Percent(l.inode_warning_free_ratio) + ".");
  } else if (m.wal_aged) {
    decide(6, "2",
           "the WAL (" + m.wal->path + ") is not being cleaned up: " +
               WalAgedWhy(m.wal->name, component_findings) + ".");
  } else if (m.space_short && m.freed_total > 0) {
    decide(7, "1",
           mp + " has " + Percent(m.avail_ratio) +
               " available and no component dominates; the cleanup rules "
               "would free " +
               HumanBytes(m.freed_total) +
               " here (§1 lists them, and reserves deleting for a disk over " +
               Percent(l.emergency_used_ratio) + ": review first).");
    v.cleanup_bytes = m.freed_total;
  } else if (m.space_short && !m.measured_rules) {
    decide(8, "1",
           mp + " has " + Percent(m.avail_ratio) +
               " available and no component dominates; what the cleanup "
               "rules would free here is not measured: see §1's steps "
               "before §5 Volume Expansion.");
  } else if (m.space_short) {
    decide(8, "5",
           mp + " has " + Percent(m.avail_ratio) +
               " available, no component dominates and the cleanup rules "
               "free nothing here: normal growth.");
  } else {
    v.reason = mp + " is within every threshold.";
  }
}

Candidate Judge(const Numbers& n, const Limits& l, const FilesystemNumbers& fs,
                const std::vector<Finding>& component_findings,
                std::vector<Finding>* findings) {
  Candidate c;
  FilesystemVerdict& v = c.verdict;
  v.mountpoint = fs.mountpoint;
  if (!fs.stat_success && l.families.filesystem_health) {
    Add(findings, Status::kWarning, "StemeDBFilesystemStatFailing",
        fs.mountpoint,
        fs.have_capacity ? "statfs did not answer; its numbers are older"
                         : "statfs did not answer; its use is unknown",
        "");
  }
  if (!fs.have_capacity || fs.size_bytes == 0) {
    v.status = Status::kUnknown;
    v.reason = fs.mountpoint + " did not answer statvfs (hung or gone?): " +
               "its use is unknown";
    c.tree_rank = 50;
    return c;
  }
  const Measures m = Measure(n, l, fs, component_findings);
  const size_t first = findings->size();
  // A read-only filesystem is not filling up: the space alerts skip it, and
  // the read-only alert pages instead (the database cannot write).
  if (fs.readonly) {
    if (l.families.filesystem_health) {
      Add(findings, Status::kCritical, "StemeDBFilesystemReadOnly",
          fs.mountpoint, "mounted read-only; StemeDB cannot write", "");
    }
  } else {
    if (l.families.disk_space) DiskFindings(l, fs.mountpoint, m, findings);
    if (l.families.inodes) InodeFindings(l, fs.mountpoint, m, findings);
  }
  ShareFindings(l, fs.mountpoint, m, findings);
  for (size_t i = first; i < findings->size(); ++i) {
    v.status = Worse(v.status, (*findings)[i].severity);
  }
  if (m.wal_aged) v.status = Worse(v.status, Status::kWarning);
  v.cleanup_measured = m.measured_rules;
  v.steps = Steps(l, fs, m);
  Decide(l, fs, m, component_findings, &c);
  return c;
}

}  // namespace

std::string_view StatusName(Status status) {
  switch (status) {
    case Status::kOk:
      return "OK";
    case Status::kWarning:
      return "WARNING";
    case Status::kCritical:
      return "CRITICAL";
    case Status::kUnknown:
      return "UNKNOWN";
  }
  return "UNKNOWN";
}

std::string_view SectionTitle(std::string_view section) {
  if (section == "1") return "Emergency Cleanup";
  if (section == "2") return "WAL Cleanup";
  if (section == "3") return "Database Compaction";
  if (section == "4") return "Inode Exhaustion";
  if (section == "5") return "Volume Expansion";
  return "";
}

Limits LimitsFrom(const Thresholds& t, const AlertFamilies& families) {
  Limits l;
  l.families = families;
  l.disk_warning_avail_ratio = t.disk_space.warning.ratio;
  l.disk_critical_avail_ratio = t.disk_space.critical.ratio;
  l.emergency_used_ratio = t.disk_space.emergency_used.ratio;
  l.inode_warning_free_ratio = t.inodes.warning.ratio;
  l.inode_critical_free_ratio = t.inodes.critical.ratio;
  l.wal_component = t.wal.component;
  l.most_space_share = t.wal.max_filesystem_share;
  l.wal_retention_seconds = t.wal.retention.seconds();
  l.wal_max_segments = t.wal.max_segments;
  l.wal_shrinking_lookback_seconds = t.wal.shrinking_lookback.seconds();
  l.wal_shrinking_ratio = t.wal.shrinking_ratio;
  l.backups_component = t.backups.component;
  l.backup_max_age_seconds = t.backups.max_age.seconds();
  l.backup_retention_seconds = t.backups.retention.seconds();
  l.backup_max_count = t.backups.max_count;
  l.tmp_component = t.tmp.component;
  l.tmp_max_files = t.tmp.max_files;
  l.tmp_max_bytes = t.tmp.max_bytes;
  l.reclaimable_max_share = t.reclaimable.max_filesystem_share;
  return l;
}

namespace {

// The most severe candidate; of equally severe ones, the one decided earliest
// in the tree. Null when there is none.
const Candidate* Best(const std::vector<Candidate>& candidates) {
  const Candidate* best = nullptr;
  for (const auto& c : candidates) {
    if (!best || Rank(c.verdict.status) > Rank(best->verdict.status) ||
        (Rank(c.verdict.status) == Rank(best->verdict.status) &&
         c.tree_rank < best->tree_rank)) {
      best = &c;
    }
  }
  return best;
}

// Why nothing could be judged when no filesystem answered statvfs.
std::string NoCapacityReason(const Numbers& n) {
  bool any_present = false;
  for (const auto& c : n.components) any_present = any_present || c.present;
  bool unwalked = false;
  for (const auto& c : n.components) {
    unwalked = unwalked || (!c.present && !c.complete);
  }
  if (any_present) {
    return "No filesystem holding a component answered statvfs: the disk's "
           "state is unknown.";
  }
  if (unwalked) {
    return "No component has been walked to the end yet (an exporter just "
           "started, or a directory that cannot be read): nothing to judge.";
  }
  return "No component directory exists under " + n.root +
         " (wrong --root or --config?).";
}

// §1's "then": the filesystem would still be too full after its steps.
std::string StillFullAfterCleanup(const Numbers& n,
                                  const FilesystemVerdict& v) {
  std::string then;
  for (const auto& fs : n.filesystems) {
    if (fs.mountpoint != v.mountpoint || fs.size_bytes == 0) continue;
    const uint64_t used =
        fs.size_bytes - std::min(fs.avail_bytes, fs.size_bytes);
    const uint64_t after = used - std::min(used, v.cleanup_bytes);
    const double after_ratio =
        static_cast<double>(after) / static_cast<double>(fs.size_bytes);
    if (after_ratio > kStillFullAfterCleanup) {
      then = "After these steps " + fs.mountpoint + " would still be " +
             Percent(after_ratio) + " used (above " +
             Percent(kStillFullAfterCleanup) +
             "): go on to §5 Volume Expansion.";
    }
  }
  return then;
}

// The report's headline from the best candidate's verdict.
void Conclude(const Candidate* best, Status status, Report* r) {
  if (best && !best->verdict.section.empty()) {
    const FilesystemVerdict& v = best->verdict;
    r->section = v.section;
    r->section_title = SectionTitle(v.section);
    r->mountpoint = v.mountpoint;
    r->reason = v.reason;
    if (!r->reason.empty())
      r->reason[0] = static_cast<char>(
          std::toupper(static_cast<unsigned char>(r->reason[0])));
    if (v.section == "1" && v.cleanup_measured) {
      r->then = StillFullAfterCleanup(r->numbers, v);
    }
  } else if (best && r->reason.empty()) {
    r->mountpoint = best->verdict.mountpoint;
    r->reason = status == Status::kOk
                    ? "Every filesystem holding a component is within the "
                      "alert thresholds; nothing to do."
                    : best->verdict.reason;
  }
}

}  // namespace

Report Diagnose(Numbers numbers, const Limits& limits) {
  Report r;
  r.limits = limits;
  r.numbers = std::move(numbers);
  const Numbers& n = r.numbers;

  std::vector<Finding> component_findings;
  ComponentFindings(n, limits, &component_findings);
  UnaccountedFindings(n, &component_findings);
  std::vector<Candidate> candidates;
  for (const auto& fs : n.filesystems) {
    candidates.push_back(Judge(n, limits, fs, component_findings, &r.findings));
  }
  r.findings.insert(r.findings.end(), component_findings.begin(),
                    component_findings.end());

  Status status = Status::kOk;
  for (const auto& f : r.findings) status = Worse(status, f.severity);
  for (const auto& c : candidates) status = Worse(status, c.verdict.status);
  bool any_capacity = false;
  for (const auto& fs : n.filesystems) {
    any_capacity = any_capacity || (fs.have_capacity && fs.size_bytes > 0);
  }
  if (!any_capacity) {
    status = Worse(status, Status::kUnknown);
    r.reason = NoCapacityReason(n);
  }
  r.status = status;
  Conclude(Best(candidates), status, &r);
  for (auto& c : candidates) r.filesystems.push_back(std::move(c.verdict));
  return r;
}

}  // namespace stemedb::diagnose
