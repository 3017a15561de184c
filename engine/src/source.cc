#include "source.h"

namespace stemedb::exporter {

bool NotificationsMissChanges(std::string_view fstype) {
  static constexpr std::string_view kRemote[] = {
      "nfs",  "nfs4", "cifs",      "smb3",   "smbfs",   "9p",
      "ceph", "afs",  "glusterfs", "lustre", "gpfs",    "ocfs2",
      "gfs2", "fuse", "sshfs",     "davfs",  "virtiofs"};
  if (fstype.starts_with("fuse.") || fstype.starts_with("fuseblk")) {
    return true;
  }
  for (std::string_view t : kRemote) {
    if (fstype == t) return true;
  }
  return false;
}

namespace {

// A full walk per Collect.
class WalkSource : public ComponentSource {
 public:
  std::vector<measure::ComponentStats> Collect(const WalkPlan& plan) override {
    return measure::ScanComponents(plan.specs, plan.options);
  }
};

}  // namespace

std::unique_ptr<ComponentSource> MakeWalkSource() {
  return std::make_unique<WalkSource>();
}

std::unique_ptr<ComponentSource> MakeSource(ScanMode mode,
                                            const WatchSeams& seams) {
  switch (mode) {
    case ScanMode::kWatch:
      return MakeWatchSource(seams);
    case ScanMode::kWalk:
      break;
  }
  return MakeWalkSource();
}

}  // namespace stemedb::exporter
