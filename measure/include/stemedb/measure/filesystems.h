// Which filesystems hold the components, and their capacity (statvfs), read
// off the request path with a timeout so a hung mount cannot hang the caller.
//
// Thread safety: ParseMountInfo, FindMount and ChooseMounts are pure.
// CapacityProber is thread-compatible: call Probe from one thread (the
// exporter's capacity loop).
#pragma once

#include <sys/statvfs.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace stemedb::measure {

// One line of /proc/self/mountinfo.
struct Mount {
  dev_t device_id = 0;     // makedev(major, minor)
  std::string mountpoint;  // unescaped (\040 -> space)
  std::string device;      // the mount source, e.g. /dev/vda1, tmpfs
  std::string fstype;      // e.g. ext4, tmpfs, nfs4
  // The filesystem itself is read-only (superblock option "ro"); a
  // read-only view through this mount alone does not count.
  bool readonly = false;
  // The directory of the filesystem mounted here: "/" for the filesystem's
  // own mount, a subdirectory for a bind mount of part of it.
  std::string root = "/";
};

// Parses mountinfo text; malformed lines are skipped.
std::vector<Mount> ParseMountInfo(std::string_view text);

// Reads /proc/self/mountinfo. Empty on failure.
std::vector<Mount> ReadMountTable();

// The mount holding `path` (absolute): the mount with the longest mountpoint
// that is `path` or one of its ancestors and whose device_id == `device_id`
// (so bind mounts of the same device resolve to the one actually above path).
// Falls back to the longest ancestor mountpoint when none matches the device.
std::optional<Mount> FindMount(const std::vector<Mount>& table,
                               std::string_view path, dev_t device_id);

// Mounts whose mountpoint lies strictly below `path`.
std::vector<Mount> MountsBelow(const std::vector<Mount>& table,
                               std::string_view path);

// A component whose filesystem is wanted: its path, and the device its walk
// saw (0: not known yet).
struct MountWant {
  std::string component;
  std::string path;
  dev_t device = 0;
  bool missing = false;  // the walk found no directory: nothing to report
};

// Which filesystems to report, and which one holds each component.
struct MountChoice {
  // One mount per device: bind mounts and components sharing a filesystem
  // give one series, named by the filesystem's own mount (root "/") rather
  // than a bind mount of a part of it, then by the shortest mountpoint, so
  // the choice does not depend on component order.
  std::map<dev_t, Mount> by_device;
  // Component name -> device of its own directory's filesystem.
  std::vector<std::pair<std::string, dev_t>> component_devices;
};

// Pure: picks the mounts for `wants` from `table`. Without one_filesystem,
// mounts below a component are reported too (they are walked), but the
// component is joined only to its own directory's filesystem, keeping the
// join one-to-one for PromQL's group_left.
MountChoice ChooseMounts(const std::vector<Mount>& table,
                         const std::vector<MountWant>& wants,
                         bool one_filesystem);

struct Capacity {
  uint64_t size_bytes = 0;   // f_blocks * f_frsize
  uint64_t free_bytes = 0;   // f_bfree * f_frsize
  uint64_t avail_bytes = 0;  // f_bavail * f_frsize (what non-root can use)
  uint64_t files = 0;        // f_files; 0 on filesystems with no inode table
  uint64_t files_free = 0;   // f_ffree
  bool readonly = false;     // ST_RDONLY: this view is read-only (maybe
                             // only the mount, see Mount::readonly)
};

// statvfs(2)'s signature.
using StatvfsFunction = int (*)(const char* path, struct statvfs* out);

// Test seams of a CapacityProber (leveldb's Options style). The defaults
// are production; the exporter binary never changes them.
struct CapacityProberOptions {
  // What probes call instead of statvfs(2), so a test can make a probe hang
  // on a latch it controls. Default (null): the real one.
  StatvfsFunction statvfs_function = nullptr;
  // Called on a probe's helper thread, with the probed mountpoint, after the
  // probe has finished and is no longer counted by InFlight(), so a test can
  // wait for that without polling. It may run after the prober is gone.
  // Default (empty): nothing.
  std::function<void(const std::string& mountpoint)> probe_finished;
};

// Runs statvfs(2) on a helper thread and waits at most `timeout`. A probe
// still stuck in the kernel is not repeated: while one is in flight for a
// mountpoint, Probe returns nullopt at once, so a hung NFS mount costs one
// thread, never one per scrape or per cycle.
class CapacityProber {
 public:
  explicit CapacityProber(CapacityProberOptions options = {});
  ~CapacityProber();  // does not wait for stuck probes (they are detached)
  CapacityProber(const CapacityProber&) = delete;
  CapacityProber& operator=(const CapacityProber&) = delete;

  // nullopt on timeout, on a probe already in flight, or on statvfs failure.
  std::optional<Capacity> Probe(const std::string& mountpoint,
                                std::chrono::milliseconds timeout);

  // Probes whose threads have not returned yet (for tests and logs).
  int InFlight() const;

 private:
  struct Shared;
  std::shared_ptr<Shared> shared_;  // outlives the prober for stuck threads
};

}  // namespace stemedb::measure
