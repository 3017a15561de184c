#include "deleted_open_numbers.h"

#include <pwd.h>

#include <string>
#include <vector>

namespace stemedb::exporter {
namespace {

std::string UserName(uid_t uid) {
  struct passwd pw {};
  struct passwd* found = nullptr;
  std::vector<char> buf(4096);
  if (getpwuid_r(uid, &pw, buf.data(), buf.size(), &found) == 0 &&
      found != nullptr) {
    return found->pw_name;
  }
  return std::to_string(uid);
}

}  // namespace

void AddDeletedOpen(const Snapshot& s, diagnose::Numbers* n) {
  if (!s.open_deleted) return;
  const measure::OpenDeletedScan& scan = *s.open_deleted;
  diagnose::DeletedOpenNumbers& d = n->deleted_open;
  d.scanned = true;
  d.unreadable_processes = scan.unreadable_processes;
  d.truncated = scan.truncated;
  for (const measure::DeletedOpenHolder& h : scan.holders) {
    for (const FilesystemState& fs : s.filesystems) {
      if (fs.mount.device_id != h.device) continue;
      d.holders.push_back({h.pid, UserName(h.uid), h.command, h.path,
                           fs.mount.mountpoint, h.bytes});
    }
  }
  if (!scan.complete()) {
    n->notes.push_back(
        "deleted-but-open files: the open files of " +
        std::to_string(scan.unreadable_processes) +
        " processes could not be read" +
        (scan.truncated ? " and the /proc scan hit its limits" : "") +
        ", so the space they hold is unknown (run as root, or give the "
        "exporter CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH)");
  }
}

}  // namespace stemedb::exporter
