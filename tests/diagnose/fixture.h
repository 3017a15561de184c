// Numbers of a small node for the diagnose unit's tests: one data
// filesystem with the wal and db components, the percentages chosen per test.
#pragma once

#include "stemedb/diagnose/diagnosis.h"

namespace stemedb::diagnose::testing {

inline constexpr uint64_t kGiB = uint64_t{1} << 30;
inline constexpr double kNow = 1'800'000'000;

// A 100 GiB filesystem at /data with `avail` bytes available (free ==
// avail), 1000 inodes of which `files_free` are free; wal and db on it.
inline Numbers Node(uint64_t avail, uint64_t wal, uint64_t db,
                    uint64_t files_free = 900) {
  Numbers n;
  n.source = "walk";
  n.timestamp = kNow;
  n.root = "/data";
  FilesystemNumbers fs;
  fs.mountpoint = "/data";
  fs.device = "/dev/vdb";
  fs.fstype = "ext4";
  fs.have_capacity = true;
  fs.size_bytes = 100 * kGiB;
  fs.free_bytes = avail;
  fs.avail_bytes = avail;
  fs.files = 1000;
  fs.files_free = files_free;
  n.filesystems.push_back(fs);
  ComponentNumbers w;
  w.name = "wal";
  w.path = "/data/data/wal";
  w.mountpoint = "/data";
  w.present = w.complete = true;
  w.allocated_bytes = wal;
  w.has_segments = true;
  w.segments = 3;
  w.oldest_segment_timestamp = kNow - 3600;
  w.newest_segment_timestamp = kNow - 60;
  n.components.push_back(w);
  ComponentNumbers d;
  d.name = "db";
  d.path = "/data/data/db";
  d.mountpoint = "/data";
  d.present = d.complete = true;
  d.allocated_bytes = db;
  n.components.push_back(d);
  return n;
}

inline RuleNumbers Rule(std::string name, std::string section, uint64_t bytes,
                        std::string mountpoint = "/data") {
  RuleNumbers r;
  r.name = std::move(name);
  r.section = std::move(section);
  r.path = "/data/data/wal";
  r.command = "find data/wal -name \"*.log\" -mtime +7 -delete";
  r.mountpoint = std::move(mountpoint);
  r.measured = true;
  r.bytes = bytes;
  r.entries = bytes > 0 ? 3 : 0;
  r.oldest_timestamp = kNow - 10 * 86400;
  return r;
}

}  // namespace stemedb::diagnose::testing
