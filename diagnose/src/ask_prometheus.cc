#include "stemedb/diagnose/ask_prometheus.h"

#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

namespace stemedb::diagnose {
namespace {

std::string UrlEncode(const std::string& s) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace

TimeUntilFull AskPrometheus(const std::string& url, const std::string& instance,
                            const FetchOptions& options) {
  TimeUntilFull t;
  t.url = url;
  t.instance = instance;
  std::string body;
  std::vector<std::string> rules;
  stemedb::Status err =
      FetchPath(url, "/api/v1/rules?type=record", options, &body);
  if (!err) err = ReadRuleNames(body, &rules);
  const auto loaded = [&](const char* name) {
    return std::find(rules.begin(), rules.end(), name) != rules.end();
  };
  t.bytes_rule = loaded(kTimeUntilFullRule);
  t.inodes_rule = loaded(kInodesTimeUntilFullRule);
  for (const bool inodes : {false, true}) {
    if (err || !(inodes ? t.inodes_rule : t.bytes_rule)) continue;
    const char* rule = inodes ? kInodesTimeUntilFullRule : kTimeUntilFullRule;
    err = FetchPath(url, "/api/v1/query?query=" + UrlEncode(rule), options,
                    &body);
    if (!err) err = ReadTimeSeries(body, inodes, &t);
  }
  t.reached = !err;
  if (err) t.error = err->message;
  if (err) t.filesystems.clear();
  if (!t.filesystems.empty()) t.other_instances.clear();
  return t;
}

}  // namespace stemedb::diagnose
