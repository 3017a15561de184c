// What the numbers cannot account for: entries a walk could not read, and
// space held by deleted files that are still open.
#include <string>
#include <vector>

#include "format.h"
#include "stemedb/diagnose/diagnosis.h"

namespace stemedb::diagnose {

void UnaccountedFindings(const Numbers& numbers, std::vector<Finding>* out) {
  for (const ComponentNumbers& c : numbers.components) {
    if (c.unaccounted_entries == 0) continue;
    std::string detail = std::to_string(c.unaccounted_entries) +
                         " entries could not be read, so its numbers are a "
                         "lower bound; in:";
    for (const std::string& path : c.unaccounted_paths) detail += " " + path;
    detail +=
        ". Fix: add the exporter's user to these directories' group (e.g. "
        "usermod -aG GROUP stemedb-disk-exporter, then restart it) or make "
        "them group-readable and searchable (chmod g+rX).";
    out->push_back({Status::kWarning, std::string(kScanIncompleteAlert), c.name,
                    detail, ""});
  }
}

std::vector<std::string> DeletedOpenLines(const Numbers& numbers) {
  const DeletedOpenNumbers& d = numbers.deleted_open;
  std::vector<std::string> out;
  if (!d.scanned || d.holders.empty()) return out;  // unseen: in the notes
  for (const HolderNumbers& h : d.holders) {
    out.push_back("pid " + std::to_string(h.pid) + " " + h.command + " (user " +
                  h.user + ") holds " + detail::HumanBytes(h.bytes) + " on " +
                  h.mountpoint + ": " + h.path);
  }
  out.push_back(
      "Runbook Common Cause 1: restart (or signal to reopen its files) each "
      "holder; df frees the space when the last descriptor closes.");
  return out;
}

}  // namespace stemedb::diagnose
