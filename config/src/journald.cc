// systemd-journald's SystemMaxUse= as journald itself would read it from
// journald.conf and its drop-ins: section [Journal], later assignments win,
// an empty one resets to "no cap".

#include <algorithm>
#include <boost/filesystem.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "stemedb/base/user_file.h"
#include "stemedb/config/stemedb_config.h"

namespace stemedb {
namespace {

namespace fs = boost::filesystem;

constexpr FileKind kJournaldConfKind{
    "journald config file", size_t{256} << 10,
    "journald.conf is a few KiB (is this the right file?)"};
// More drop-ins than this are not read (the check then says so).
constexpr size_t kMaxDropIns = 256;

std::string_view Trim(std::string_view s) {
  const size_t begin = s.find_first_not_of(" \t\r");
  if (begin == std::string_view::npos) return {};
  const size_t end = s.find_last_not_of(" \t\r");
  return s.substr(begin, end - begin + 1);
}

// Applies one file's [Journal] SystemMaxUse= assignments.
void ApplyFile(const std::string& path, std::string_view text,
               std::string* value, std::string* where) {
  bool in_journal = false;
  int number = 0;
  size_t from = 0;
  while (from <= text.size()) {
    size_t end = text.find('\n', from);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = Trim(text.substr(from, end - from));
    from = end + 1;
    ++number;
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line[0] == '[') {
      in_journal = line == "[Journal]";
      continue;
    }
    const size_t eq = line.find('=');
    if (!in_journal || eq == std::string_view::npos) continue;
    if (Trim(line.substr(0, eq)) != "SystemMaxUse") continue;
    *value = std::string(Trim(line.substr(eq + 1)));
    *where = path + ":" + std::to_string(number);
  }
}

// Reads `path` onto the value when it exists.
Status ApplyIfPresent(const std::string& path, std::string* value,
                      std::string* where) {
  boost::system::error_code ec;
  if (!fs::exists(path, ec)) return std::nullopt;
  std::string text;
  if (Status err = ReadUserFile(path, kJournaldConfKind, &text)) return err;
  ApplyFile(path, text, value, where);
  return std::nullopt;
}

}  // namespace

Status ReadJournaldSystemMaxUse(const std::string& journald_conf,
                                std::string* value, std::string* where) {
  std::string v;
  std::string w;
  if (Status err = ApplyIfPresent(journald_conf, &v, &w)) return err;
  std::vector<std::string> drop_ins;
  boost::system::error_code ec;
  for (fs::directory_iterator it(journald_conf + ".d", ec), end;
       !ec && it != end; it.increment(ec)) {
    if (it->path().extension() != ".conf") continue;
    if (drop_ins.size() == kMaxDropIns) {
      return Error{journald_conf + ".d", 0, 0, "",
                   "more than " + std::to_string(kMaxDropIns) + " drop-ins"};
    }
    drop_ins.push_back(it->path().string());
  }
  std::sort(drop_ins.begin(), drop_ins.end(),
            [](const std::string& a, const std::string& b) {
              return fs::path(a).filename() < fs::path(b).filename();
            });
  for (const std::string& path : drop_ins) {
    if (Status err = ApplyIfPresent(path, &v, &w)) return err;
  }
  *value = v.empty() ? "" : v;
  *where = v.empty() ? "" : w;
  return std::nullopt;
}

}  // namespace stemedb
