#include "stemedb/diagnose/render.h"

#include <algorithm>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <iterator>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "format.h"
#include "stemedb/base/utf8.h"

namespace stemedb::diagnose {
namespace {

using detail::DfPercent;
using detail::HumanBytes;
using OrderedJson = nlohmann::ordered_json;

constexpr int kSchemaVersion = 2;

// Display width of UTF-8 text: code points, not bytes ("§" is one column).
size_t Width(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

// `path` shortened in the middle to at most `width` columns; the end (the
// directory's own name) is kept, as it says most.
std::string Elide(const std::string& path, size_t width) {
  if (Width(path) <= width || width < 8) return path;
  const size_t head = (width - 3) / 3;
  const size_t tail = width - 3 - head;
  // Paths are mostly ASCII; cut on bytes, then keep whole code points.
  size_t h = head;
  while (h > 0 && (static_cast<unsigned char>(path[h]) & 0xC0) == 0x80) --h;
  size_t t = path.size() - tail;
  while (t < path.size() &&
         (static_cast<unsigned char>(path[t]) & 0xC0) == 0x80) {
    ++t;
  }
  return path.substr(0, h) + "..." + path.substr(t);
}

// Word-wraps `text` to `width` columns, each line starting with `indent`.
std::string Wrap(const std::string& text, size_t width,
                 const std::string& indent) {
  std::string out, line = indent;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find(' ', pos);
    if (end == std::string::npos) end = text.size();
    std::string word = text.substr(pos, end - pos);
    pos = end + 1;
    if (word.empty()) continue;
    if (Width(line) > Width(indent) && Width(line) + 1 + Width(word) > width) {
      out += line + "\n";
      line = indent;
    }
    if (Width(line) > Width(indent)) line += ' ';
    // A word longer than the line (a path) is shortened.
    line += Elide(word, width - Width(indent));
  }
  if (Width(line) > Width(indent)) out += line + "\n";
  return out;
}

std::string Printf(const char* format, ...)
    __attribute__((format(printf, 1, 2)));
std::string Printf(const char* format, ...) {
  char buf[512];
  va_list args;
  va_start(args, format);
  std::vsnprintf(buf, sizeof buf, format, args);
  va_end(args);
  return buf;
}

std::string UtcTime(double unix_seconds) {
  // Clamped: a timestamp read from --from may be out of time_t's range.
  const time_t t = static_cast<time_t>(
      std::clamp(unix_seconds, 0.0, 253402300799.0));  // 9999-12-31
  tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

uint64_t Used(const FilesystemNumbers& fs) {
  return fs.size_bytes - std::min(fs.free_bytes, fs.size_bytes);
}

std::string Heading(const std::string& title) { return "\n" + title + "\n"; }

// The report with every string escaped for a terminal (EscapeForTerminal):
// names come from the disk or from whoever answers --from, and a name with
// ESC sequences could set the window title, clear the screen or print a
// fake verdict. Escaped here, where they enter the text, so no line of
// RenderText has to remember; a new string field of Report goes here too.
Report Printable(Report r) {
  const auto fix = [](std::string& s) { s = EscapeForTerminal(s); };
  Numbers& n = r.numbers;
  for (std::string* s :
       {&n.source, &n.root, &r.limits.wal_component, &r.limits.db_component,
        &r.section, &r.section_title, &r.mountpoint, &r.reason, &r.then}) {
    fix(*s);
  }
  for (auto& fs : n.filesystems) {
    for (std::string* s : {&fs.mountpoint, &fs.device, &fs.fstype}) fix(*s);
  }
  for (auto& c : n.components) {
    for (std::string* s : {&c.name, &c.path, &c.mountpoint}) fix(*s);
    for (std::string& s : c.unaccounted_paths) fix(s);
  }
  for (auto& h : n.deleted_open.holders) {
    for (std::string* s : {&h.user, &h.command, &h.path, &h.mountpoint}) {
      fix(*s);
    }
  }
  for (auto* list : {&n.largest_directories, &n.most_entries}) {
    for (auto& d : *list) fix(d.path);
  }
  for (auto& rule : n.rules) {
    for (std::string* s : {&rule.name, &rule.section, &rule.path, &rule.command,
                           &rule.mountpoint}) {
      fix(*s);
    }
  }
  for (auto& note : n.notes) fix(note);
  for (auto& f : r.findings) {
    for (std::string* s : {&f.alert, &f.subject, &f.detail, &f.section}) {
      fix(*s);
    }
  }
  for (auto& v : r.filesystems) {
    for (std::string* s : {&v.mountpoint, &v.section, &v.reason}) fix(*s);
    for (auto& step : v.steps) {
      for (std::string* s :
           {&step.check, &step.question, &step.detail, &step.section}) {
        fix(*s);
      }
    }
  }
  return r;
}

// The verdict: status, runbook section and why.
std::string TextVerdict(const Report& r, size_t width) {
  std::string out;
  std::string status_line = std::string(StatusName(r.status)) + ": ";
  if (!r.section.empty()) {
    status_line += "go to §" + r.section + " " + r.section_title;
  } else {
    status_line += r.status == Status::kOk ? "no action needed"
                                           : "no runbook section applies";
  }
  out += status_line + "\n";
  out += Wrap(r.reason, width, "  ");
  if (!r.then.empty()) out += Wrap(r.then, width, "  ");
  return out;
}

// df -h and df -i in one table.
std::string TextFilesystems(const Numbers& n, size_t width) {
  std::string out = Heading("Filesystems (df -h, df -i)");
  out += "   Size  Used Avail Use% Inodes IUsed IFree IUse% Mounted on\n";
  for (const auto& fs : n.filesystems) {
    // The columns before it take 50; " (ro)" 5 more.
    const size_t mp_width = width > 58 ? width - 50 - (fs.readonly ? 5 : 0) : 8;
    std::string mp =
        Elide(fs.mountpoint, mp_width) + (fs.readonly ? " (ro)" : "");
    if (!fs.have_capacity) {
      out += Printf("%7s %5s %5s %4s %6s %5s %5s %5s ", "?", "?", "?", "?", "?",
                    "?", "?", "?") +
             mp + "\n";
      continue;
    }
    const uint64_t used = Used(fs);
    const int use = DfPercent(used, fs.avail_bytes);
    const uint64_t iused = fs.files - std::min(fs.files_free, fs.files);
    const int iuse = DfPercent(iused, fs.files_free);
    out += Printf("%7s %5s %5s %4s %6s %5s %5s %5s ",
                  HumanBytes(fs.size_bytes).c_str(), HumanBytes(used).c_str(),
                  HumanBytes(fs.avail_bytes).c_str(),
                  use < 0 ? "-" : (std::to_string(use) + "%").c_str(),
                  detail::HumanCount(fs.files).c_str(),
                  detail::HumanCount(iused).c_str(),
                  detail::HumanCount(fs.files_free).c_str(),
                  iuse < 0 ? "-" : (std::to_string(iuse) + "%").c_str()) +
           mp + "\n";
  }
  return out;
}

// One filesystem's tree: each question, its answer and the arrow to the
// section decided.
std::string TextTree(const FilesystemVerdict& v, size_t width) {
  std::string out =
      Heading("Quick Diagnosis of " + Elide(v.mountpoint, width - 20));
  bool decided = false;
  for (const auto& s : v.steps) {
    const bool here = s.answer && !decided && s.section == v.section;
    decided = decided || here;
    std::string line =
        std::string("  ") + (s.answer ? "yes" : "no ") + "  " + s.question;
    const std::string arrow = here ? "-> §" + s.section : "";
    const std::string check = "(" + s.check + ")";
    // Sizes from --from may make the question long: never wrap around.
    const size_t used = Width(line) + Width(arrow) + 2;
    line += " " + Elide(check, used < width ? width - used : 8);
    if (!arrow.empty()) {
      const size_t filled = Width(line) + Width(arrow);
      line += std::string(filled < width ? width - filled : 1, ' ') + arrow;
    }
    out += line + "\n";
    out += Wrap(s.detail, width, "       ");
  }
  return out;
}

std::string TextComponents(const Numbers& n, size_t width) {
  std::string out = Heading("Components (du -sh)");
  for (const auto& c : n.components) {
    std::string line = Printf("  %-10s ", c.name.c_str());
    if (!c.present) {
      const size_t used = Width(line) + 9;
      line += "missing  " + Elide(c.path, used + 8 < width ? width - used : 8);
      out += line + "\n";
      continue;
    }
    line += Printf(
        "%5s %7s files %5s dirs", HumanBytes(c.allocated_bytes).c_str(),
        std::to_string(c.files).c_str(), std::to_string(c.directories).c_str());
    if (c.has_segments) {
      line += " " + std::to_string(c.segments) + " segments";
      if (c.segments > 0) {
        line +=
            ", oldest " + detail::Age(n.timestamp - c.oldest_segment_timestamp);
      }
    }
    if (!c.complete) line += " (incomplete)";
    out += line + "\n";
    out += "             " + Elide(c.path, width - 13) + "\n";
  }
  return out;
}

std::string TextRules(const Numbers& n) {
  std::string out = Heading("Cleanup steps (what each would free now)");
  if (n.rules.empty()) out += "  (no cleanup rules configured)\n";
  for (const auto& rule : n.rules) {
    std::string line =
        Printf("  §%-2s %-26s ", rule.section.c_str(), rule.name.c_str());
    if (rule.measured) {
      line += Printf("%5s %6s entries", HumanBytes(rule.bytes).c_str(),
                     std::to_string(rule.entries).c_str());
      if (rule.entries > 0) {
        line += ", oldest " + detail::Age(n.timestamp - rule.oldest_timestamp);
      }
    } else {
      line += "not measured";
    }
    out += line + "\n";
    out += "      $ " + rule.command + "\n";
  }
  return out;
}

std::string TextDirectories(const Numbers& n, size_t width) {
  std::string out =
      Heading("Largest directories (du -h DIR | sort -rh | head -" +
              std::to_string(kTopDirectories) + ")");
  if (!n.directories_measured) out += "  (not measured)\n";
  for (const auto& d : n.largest_directories) {
    out += Printf("  %6s  ", HumanBytes(d.value).c_str()) +
           Elide(d.path, width - 10) + "\n";
  }
  out += Heading(
      "Most entries (find DIR -printf '%h\\n' | sort | uniq -c | "
      "sort -rn | head -" +
      std::to_string(kTopDirectories) + ")");
  if (!n.directories_measured) out += "  (not measured)\n";
  for (const auto& d : n.most_entries) {
    out += Printf("  %7s  ", std::to_string(d.value).c_str()) +
           Elide(d.path, width - 11) + "\n";
  }
  return out;
}

// The alerts that would fire, the notes, and where the numbers come from.
std::string TextFindingsAndNotes(const Report& r, size_t width) {
  const Numbers& n = r.numbers;
  std::string out;
  if (!r.findings.empty()) {
    out += Heading("Alert thresholds crossed");
    for (const auto& f : r.findings) {
      out += Printf("  %-8s %s\n", std::string(StatusName(f.severity)).c_str(),
                    f.alert.c_str());
      out += Wrap(f.subject + ": " + f.detail, width, "           ");
    }
  }
  if (!n.notes.empty()) {
    out += Heading("Notes");
    for (const auto& note : n.notes) out += Wrap(note, width, "  ");
  }
  out += "\n" + Wrap("Numbers from " +
                         std::string(n.source == "exporter"
                                         ? "the exporter's last scan"
                                         : "a walk") +
                         " at " + UtcTime(n.timestamp) + "; root " + n.root +
                         ". Runbook: disk-full.md.",
                     width, "");
  return out;
}

}  // namespace

std::string RenderText(const Report& report, size_t width) {
  const Report r = Printable(report);
  const Numbers& n = r.numbers;
  std::string out = TextVerdict(r, width);
  out += TextFilesystems(n, width);
  for (const auto& v : r.filesystems) {
    if (v.steps.empty()) continue;
    // The tree for the filesystem the verdict is about, and for any other
    // that needs attention.
    if (v.mountpoint != r.mountpoint && v.status == Status::kOk) continue;
    out += TextTree(v, width);
  }
  out += TextComponents(n, width);
  out += TextRules(n);
  out += TextDirectories(n, width);
  const std::vector<std::string> held = DeletedOpenLines(n);
  if (!held.empty()) out += Heading("Deleted files still open (lsof +L1)");
  for (const std::string& line : held) out += Wrap(line, width, "  ");
  out += TextFindingsAndNotes(r, width);
  return out;
}

namespace {

// The alert families, by their config name (alerts.<family>.enabled).
constexpr std::pair<const char*, bool AlertFamilies::*> kFamilies[] = {
    {"disk_space", &AlertFamilies::disk_space},
    {"inodes", &AlertFamilies::inodes},
    {"fill_prediction", &AlertFamilies::fill_prediction},
    {"filesystem_health", &AlertFamilies::filesystem_health},
    {"wal", &AlertFamilies::wal},
    {"backups", &AlertFamilies::backups},
    {"tmp", &AlertFamilies::tmp},
    {"cleanup", &AlertFamilies::cleanup},
    {"exporter", &AlertFamilies::exporter},
    {"scan", &AlertFamilies::scan},
};

OrderedJson LimitsJson(const Limits& l) {
  OrderedJson families = OrderedJson::object();
  for (const auto& [name, member] : kFamilies) {
    families[name] = l.families.*member;
  }
  return {
      {"disk_warning_avail_ratio", l.disk_warning_avail_ratio},
      {"disk_critical_avail_ratio", l.disk_critical_avail_ratio},
      {"emergency_used_ratio", l.emergency_used_ratio},
      {"inode_warning_free_ratio", l.inode_warning_free_ratio},
      {"inode_critical_free_ratio", l.inode_critical_free_ratio},
      {"wal_component", l.wal_component},
      {"db_component", l.db_component},
      {"most_space_share", l.most_space_share},
      {"wal_retention_seconds", l.wal_retention_seconds},
      {"wal_max_segments", l.wal_max_segments},
      {"wal_shrinking_lookback_seconds", l.wal_shrinking_lookback_seconds},
      {"wal_shrinking_ratio", l.wal_shrinking_ratio},
      {"backups_component", l.backups_component},
      {"backup_max_age_seconds", l.backup_max_age_seconds},
      {"backup_retention_seconds", l.backup_retention_seconds},
      {"backup_max_count", l.backup_max_count},
      {"tmp_component", l.tmp_component},
      {"tmp_max_files", l.tmp_max_files},
      {"tmp_max_bytes", l.tmp_max_bytes},
      {"reclaimable_max_share", l.reclaimable_max_share},
      {"families", families},
  };
}

OrderedJson FindingsJson(const std::vector<Finding>& findings) {
  OrderedJson out = OrderedJson::array();
  for (const auto& f : findings) {
    out.push_back({{"severity", StatusName(f.severity)},
                   {"alert", f.alert},
                   {"subject", f.subject},
                   {"detail", f.detail},
                   {"section", f.section}});
  }
  return out;
}

OrderedJson FilesystemJson(const FilesystemNumbers& fs) {
  const uint64_t used = Used(fs);
  const uint64_t iused = fs.files - std::min(fs.files_free, fs.files);
  return {{"mountpoint", fs.mountpoint},
          {"device", fs.device},
          {"fstype", fs.fstype},
          {"readonly", fs.readonly},
          {"stat_success", fs.stat_success},
          {"have_capacity", fs.have_capacity},
          {"size_bytes", fs.size_bytes},
          {"used_bytes", used},
          {"free_bytes", fs.free_bytes},
          {"avail_bytes", fs.avail_bytes},
          {"use_percent", DfPercent(used, fs.avail_bytes)},
          {"files", fs.files},
          {"files_used", iused},
          {"files_free", fs.files_free},
          {"inode_use_percent", DfPercent(iused, fs.files_free)}};
}

// Adds the verdict's fields to a filesystem's object.
void AddVerdict(const FilesystemVerdict& v, OrderedJson* f) {
  (*f)["status"] = StatusName(v.status);
  (*f)["section"] = v.section;
  (*f)["reason"] = v.reason;
  (*f)["cleanup_bytes"] = v.cleanup_bytes;
  (*f)["cleanup_measured"] = v.cleanup_measured;
  OrderedJson steps = OrderedJson::array();
  for (const auto& s : v.steps) {
    steps.push_back({{"check", s.check},
                     {"question", s.question},
                     {"answer", s.answer},
                     {"detail", s.detail},
                     {"section", s.section}});
  }
  (*f)["steps"] = std::move(steps);
}

OrderedJson ComponentsJson(const std::vector<ComponentNumbers>& components) {
  OrderedJson out = OrderedJson::array();
  for (const auto& c : components) {
    out.push_back({{"name", c.name},
                   {"path", c.path},
                   {"mountpoint", c.mountpoint},
                   {"present", c.present},
                   {"scan_success", c.scan_success},
                   {"complete", c.complete},
                   {"unaccounted_entries", c.unaccounted_entries},
                   {"unaccounted_paths", c.unaccounted_paths},
                   {"allocated_bytes", c.allocated_bytes},
                   {"files", c.files},
                   {"directories", c.directories},
                   {"has_segments", c.has_segments},
                   {"segments", c.segments},
                   {"oldest_segment_timestamp", c.oldest_segment_timestamp},
                   {"newest_segment_timestamp", c.newest_segment_timestamp}});
  }
  return out;
}

// A top-N list: path and the value under `value_key`.
OrderedJson DirectoriesJson(const std::vector<DirectoryNumber>& list,
                            const char* value_key) {
  OrderedJson out = OrderedJson::array();
  for (const auto& d : list) {
    out.push_back({{"path", d.path}, {value_key, d.value}});
  }
  return out;
}

OrderedJson RulesJson(const std::vector<RuleNumbers>& rules) {
  OrderedJson out = OrderedJson::array();
  for (const auto& rule : rules) {
    out.push_back({{"name", rule.name},
                   {"section", rule.section},
                   {"path", rule.path},
                   {"command", rule.command},
                   {"mountpoint", rule.mountpoint},
                   {"measured", rule.measured},
                   {"bytes", rule.bytes},
                   {"entries", rule.entries},
                   {"oldest_timestamp", rule.oldest_timestamp}});
  }
  return out;
}

OrderedJson DeletedOpenJson(const DeletedOpenNumbers& d) {
  OrderedJson holders = OrderedJson::array();
  for (const auto& h : d.holders) {
    holders.push_back({{"pid", h.pid},
                       {"user", h.user},
                       {"command", h.command},
                       {"path", h.path},
                       {"mountpoint", h.mountpoint},
                       {"bytes", h.bytes}});
  }
  return {{"scanned", d.scanned},
          {"unreadable_processes", d.unreadable_processes},
          {"truncated", d.truncated},
          {"holders", std::move(holders)}};
}

}  // namespace

std::string RenderJson(const Report& r) {
  const Numbers& n = r.numbers;
  OrderedJson j;
  j["schema_version"] = kSchemaVersion;
  j["status"] = StatusName(r.status);
  j["exit_code"] = static_cast<int>(r.status);
  j["section"] = r.section;
  j["section_title"] = r.section_title;
  j["mountpoint"] = r.mountpoint;
  j["reason"] = r.reason;
  j["then"] = r.then;
  j["source"] = n.source;
  j["timestamp"] = n.timestamp;
  j["root"] = n.root;
  j["limits"] = LimitsJson(r.limits);
  j["findings"] = FindingsJson(r.findings);
  OrderedJson filesystems = OrderedJson::array();
  for (size_t i = 0; i < n.filesystems.size(); ++i) {
    OrderedJson f = FilesystemJson(n.filesystems[i]);
    if (i < r.filesystems.size()) AddVerdict(r.filesystems[i], &f);
    filesystems.push_back(std::move(f));
  }
  j["filesystems"] = std::move(filesystems);
  j["components"] = ComponentsJson(n.components);
  j["directories_measured"] = n.directories_measured;
  j["largest_directories"] =
      DirectoriesJson(n.largest_directories, "allocated_bytes");
  j["most_entries"] = DirectoriesJson(n.most_entries, "entries");
  j["rules"] = RulesJson(n.rules);
  j["deleted_open"] = DeletedOpenJson(n.deleted_open);
  j["notes"] = n.notes;
  // Invalid UTF-8 in a path (a hostile name) is replaced, not thrown on.
  return j.dump(2, ' ', false, OrderedJson::error_handler_t::replace) + "\n";
}

namespace {

// A pointer into the text that remembers the last character nlohmann's
// lexer read: its SAX events carry no position, and an error should say
// where. The lexer reads no further than the token it reports.
class TrackedChar {
 public:
  using iterator_category = std::forward_iterator_tag;
  using value_type = char;
  using difference_type = std::ptrdiff_t;
  using pointer = const char*;
  using reference = const char&;

  TrackedChar(const char* p, const char** last_read)
      : p_(p), last_read_(last_read) {}
  reference operator*() const {
    *last_read_ = p_;
    return *p_;
  }
  TrackedChar& operator++() {
    ++p_;
    return *this;
  }
  TrackedChar operator++(int) {
    TrackedChar before = *this;
    ++p_;
    return before;
  }
  bool operator==(const TrackedChar& other) const { return p_ == other.p_; }
  bool operator!=(const TrackedChar& other) const { return p_ != other.p_; }

 private:
  const char* p_;
  const char** last_read_;
};

// Walks the document once without building it and stops at the first
// value beyond kMaxJsonDepth or kMaxJsonValues, or at a syntax error: the
// tree nlohmann would build from 16 MiB of "[" takes over a gigabyte.
class Limiter : public nlohmann::json_sax<OrderedJson> {
 public:
  // The message when the walk stopped early; empty when the text is JSON
  // within the limits.
  const std::string& error() const { return error_; }

  bool null() override { return Value(); }
  bool boolean(bool) override { return Value(); }
  bool number_integer(number_integer_t) override { return Value(); }
  bool number_unsigned(number_unsigned_t) override { return Value(); }
  bool number_float(number_float_t, const string_t&) override {
    return Value();
  }
  bool string(string_t&) override { return Value(); }
  bool binary(binary_t&) override { return Value(); }
  bool start_object(std::size_t) override { return Open(); }
  bool key(string_t&) override { return true; }
  bool end_object() override { return Close(); }
  bool start_array(std::size_t) override { return Open(); }
  bool end_array() override { return Close(); }
  bool parse_error(std::size_t, const std::string&,
                   const nlohmann::detail::exception& e) override {
    // "[json.exception.parse_error.101] parse error at line 1, column 2:
    // syntax error ..." without the parts the caller's position replaces.
    const std::string_view what = e.what();
    const size_t colon = what.find(": ");
    error_ = "not JSON: " + std::string(colon == std::string_view::npos
                                            ? what
                                            : what.substr(colon + 2));
    return false;
  }

 private:
  bool Value() {
    if (++values_ <= kMaxJsonValues) return true;
    error_ = "more than " + std::to_string(kMaxJsonValues) + " JSON values";
    return false;
  }
  bool Open() {
    if (++depth_ > kMaxJsonDepth) {
      error_ = "arrays and objects nested deeper than " +
               std::to_string(kMaxJsonDepth);
      return false;
    }
    return Value();
  }
  bool Close() {
    --depth_;
    return true;
  }

  size_t depth_ = 0;
  size_t values_ = 0;
  std::string error_;
};

// 1-based line and column (in bytes) of text[offset].
void Position(std::string_view text, size_t offset, int* line, int* column) {
  offset = std::min(offset, text.size());
  const std::string_view before = text.substr(0, offset);
  *line = 1 + static_cast<int>(std::count(before.begin(), before.end(), '\n'));
  const size_t newline = before.rfind('\n');
  *column = static_cast<int>(
      offset - (newline == std::string_view::npos ? 0 : newline + 1) + 1);
}

// Parses `text` into `*out` unless it is not JSON or exceeds the limits;
// the error then says where.
stemedb::Status ParseWithinLimits(std::string_view text, OrderedJson* out) {
  const char* last_read = text.data();
  Limiter limiter;
  const bool ok = OrderedJson::sax_parse(
      TrackedChar(text.data(), &last_read),
      TrackedChar(text.data() + text.size(), &last_read), &limiter);
  if (!ok) {
    Error e = Error::Message(limiter.error());
    Position(text, static_cast<size_t>(last_read - text.data()), &e.line,
             &e.column);
    return e;
  }
  // Within the limits the tree is a small multiple of the text.
  *out = OrderedJson::parse(text);
  return std::nullopt;
}

// Reading errors travel as this exception inside ParseJson only.
struct BadKey : std::runtime_error {
  using std::runtime_error::runtime_error;
};

const OrderedJson& At(const OrderedJson& j, const char* key,
                      const std::string& where) {
  if (!j.is_object() || !j.contains(key)) {
    throw BadKey(where + key + ": missing");
  }
  return j.at(key);
}

template <typename T>
void Read(const OrderedJson& j, const char* key, const std::string& where,
          T* out) {
  const OrderedJson& v = At(j, key, where);
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    // nlohmann's get<integer>() casts a float (6.7e59) or an out-of-range
    // integer without a check, which is undefined behaviour: take only
    // integers, and only those T holds.
    if (!v.is_number_integer()) throw BadKey(where + key + ": wrong type");
    const bool fits = v.is_number_unsigned()
                          ? std::in_range<T>(v.get<std::uint64_t>())
                          : std::in_range<T>(v.get<std::int64_t>());
    if (!fits) throw BadKey(where + key + ": out of range");
    *out = static_cast<T>(v.is_number_unsigned() ? v.get<std::uint64_t>()
                                                 : v.get<std::int64_t>());
  } else {
    try {
      *out = v.get<T>();
    } catch (const nlohmann::json::exception&) {
      throw BadKey(where + key + ": wrong type");
    }
  }
}

template <typename T>
void ReadIfPresent(const OrderedJson& j, const char* key,
                   const std::string& where, T* out) {
  if (j.is_object() && j.contains(key)) Read(j, key, where, out);
}

const OrderedJson& Array(const OrderedJson& j, const char* key,
                         const std::string& where) {
  const OrderedJson& v = At(j, key, where);
  if (!v.is_array()) throw BadKey(where + key + ": not an array");
  return v;
}

// The readers below throw BadKey; `w` is the key path so far ("rules[2].").

Limits ReadLimits(const OrderedJson& j) {
  Limits l;
  const OrderedJson& lj = At(j, "limits", "");
  const std::string lw = "limits.";
  Read(lj, "disk_warning_avail_ratio", lw, &l.disk_warning_avail_ratio);
  Read(lj, "disk_critical_avail_ratio", lw, &l.disk_critical_avail_ratio);
  Read(lj, "emergency_used_ratio", lw, &l.emergency_used_ratio);
  Read(lj, "inode_warning_free_ratio", lw, &l.inode_warning_free_ratio);
  Read(lj, "inode_critical_free_ratio", lw, &l.inode_critical_free_ratio);
  Read(lj, "wal_component", lw, &l.wal_component);
  Read(lj, "db_component", lw, &l.db_component);
  Read(lj, "most_space_share", lw, &l.most_space_share);
  Read(lj, "wal_retention_seconds", lw, &l.wal_retention_seconds);
  Read(lj, "wal_max_segments", lw, &l.wal_max_segments);
  // Added within schema 2: a document without them keeps the defaults.
  ReadIfPresent(lj, "wal_shrinking_lookback_seconds", lw,
                &l.wal_shrinking_lookback_seconds);
  ReadIfPresent(lj, "wal_shrinking_ratio", lw, &l.wal_shrinking_ratio);
  Read(lj, "backups_component", lw, &l.backups_component);
  Read(lj, "backup_max_age_seconds", lw, &l.backup_max_age_seconds);
  Read(lj, "backup_retention_seconds", lw, &l.backup_retention_seconds);
  Read(lj, "backup_max_count", lw, &l.backup_max_count);
  Read(lj, "tmp_component", lw, &l.tmp_component);
  Read(lj, "tmp_max_files", lw, &l.tmp_max_files);
  Read(lj, "tmp_max_bytes", lw, &l.tmp_max_bytes);
  Read(lj, "reclaimable_max_share", lw, &l.reclaimable_max_share);
  const OrderedJson& fj = At(lj, "families", lw);
  for (const auto& [name, member] : kFamilies) {
    Read(fj, name, lw + "families.", &(l.families.*member));
  }
  return l;
}

// Calls read(element, where) for each element of the array j[key].
template <typename F>
void ForEach(const OrderedJson& j, const char* key, F read) {
  size_t i = 0;
  for (const auto& e : Array(j, key, "")) {
    read(e, std::string(key) + "[" + std::to_string(i++) + "].");
  }
}

FilesystemNumbers ReadFilesystem(const OrderedJson& f, const std::string& w) {
  FilesystemNumbers fs;
  Read(f, "mountpoint", w, &fs.mountpoint);
  Read(f, "device", w, &fs.device);
  Read(f, "fstype", w, &fs.fstype);
  Read(f, "readonly", w, &fs.readonly);
  Read(f, "stat_success", w, &fs.stat_success);
  Read(f, "have_capacity", w, &fs.have_capacity);
  Read(f, "size_bytes", w, &fs.size_bytes);
  Read(f, "free_bytes", w, &fs.free_bytes);
  Read(f, "avail_bytes", w, &fs.avail_bytes);
  Read(f, "files", w, &fs.files);
  Read(f, "files_free", w, &fs.files_free);
  return fs;
}

ComponentNumbers ReadComponent(const OrderedJson& c, const std::string& w) {
  ComponentNumbers cn;
  Read(c, "name", w, &cn.name);
  Read(c, "path", w, &cn.path);
  Read(c, "mountpoint", w, &cn.mountpoint);
  Read(c, "present", w, &cn.present);
  Read(c, "scan_success", w, &cn.scan_success);
  Read(c, "complete", w, &cn.complete);
  Read(c, "unaccounted_entries", w, &cn.unaccounted_entries);
  Read(c, "unaccounted_paths", w, &cn.unaccounted_paths);
  Read(c, "allocated_bytes", w, &cn.allocated_bytes);
  Read(c, "files", w, &cn.files);
  Read(c, "directories", w, &cn.directories);
  Read(c, "has_segments", w, &cn.has_segments);
  Read(c, "segments", w, &cn.segments);
  Read(c, "oldest_segment_timestamp", w, &cn.oldest_segment_timestamp);
  Read(c, "newest_segment_timestamp", w, &cn.newest_segment_timestamp);
  return cn;
}

RuleNumbers ReadRule(const OrderedJson& rj, const std::string& w) {
  RuleNumbers rule;
  Read(rj, "name", w, &rule.name);
  Read(rj, "section", w, &rule.section);
  Read(rj, "path", w, &rule.path);
  Read(rj, "command", w, &rule.command);
  Read(rj, "mountpoint", w, &rule.mountpoint);
  Read(rj, "measured", w, &rule.measured);
  Read(rj, "bytes", w, &rule.bytes);
  Read(rj, "entries", w, &rule.entries);
  Read(rj, "oldest_timestamp", w, &rule.oldest_timestamp);
  return rule;
}

void ReadDeletedOpen(const OrderedJson& j, DeletedOpenNumbers* d) {
  const std::string w = "deleted_open.";
  Read(j, "scanned", w, &d->scanned);
  Read(j, "unreadable_processes", w, &d->unreadable_processes);
  Read(j, "truncated", w, &d->truncated);
  ForEach(j, "holders", [&](const OrderedJson& e, const std::string& where) {
    HolderNumbers h;
    Read(e, "pid", where, &h.pid);
    Read(e, "user", where, &h.user);
    Read(e, "command", where, &h.command);
    Read(e, "path", where, &h.path);
    Read(e, "mountpoint", where, &h.mountpoint);
    Read(e, "bytes", where, &h.bytes);
    d->holders.push_back(std::move(h));
  });
}

// Everything after schema_version, in the document's order.
Numbers ReadNumbers(const OrderedJson& j, Limits* l) {
  Numbers n;
  Read(j, "source", "", &n.source);
  Read(j, "timestamp", "", &n.timestamp);
  Read(j, "root", "", &n.root);
  *l = ReadLimits(j);
  ForEach(j, "filesystems", [&](const OrderedJson& e, const std::string& w) {
    n.filesystems.push_back(ReadFilesystem(e, w));
  });
  ForEach(j, "components", [&](const OrderedJson& e, const std::string& w) {
    n.components.push_back(ReadComponent(e, w));
  });
  Read(j, "directories_measured", "", &n.directories_measured);
  ForEach(j, "largest_directories",
          [&](const OrderedJson& e, const std::string& w) {
            DirectoryNumber dn;
            Read(e, "path", w, &dn.path);
            Read(e, "allocated_bytes", w, &dn.value);
            n.largest_directories.push_back(std::move(dn));
          });
  ForEach(j, "most_entries", [&](const OrderedJson& e, const std::string& w) {
    DirectoryNumber dn;
    Read(e, "path", w, &dn.path);
    Read(e, "entries", w, &dn.value);
    n.most_entries.push_back(std::move(dn));
  });
  ForEach(j, "rules", [&](const OrderedJson& e, const std::string& w) {
    n.rules.push_back(ReadRule(e, w));
  });
  ReadDeletedOpen(At(j, "deleted_open", ""), &n.deleted_open);
  Read(j, "notes", "", &n.notes);
  return n;
}

}  // namespace

stemedb::Status ParseJson(std::string_view text, Numbers* numbers,
                          Limits* limits) {
  OrderedJson j;
  if (stemedb::Status err = ParseWithinLimits(text, &j)) return err;
  Numbers n;
  Limits l;
  try {
    int version = 0;
    Read(j, "schema_version", "", &version);
    if (version != kSchemaVersion) {
      return Error::Message("schema_version " + std::to_string(version) +
                            ", expected " + std::to_string(kSchemaVersion));
    }
    n = ReadNumbers(j, &l);
  } catch (const BadKey& e) {
    return Error::Message(e.what());
  }
  *numbers = std::move(n);
  *limits = std::move(l);
  return std::nullopt;
}

}  // namespace stemedb::diagnose
