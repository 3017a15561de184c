// The one rule for writing a file a user names (by flag: generated rules,
// tests, dashboard, Alertmanager and PrometheusRule files, the textfile
// collector's file): whatever the path turns out to be, it is written the
// way the user meant.
//
// - "-" is standard output.
// - A character device or a FIFO (/dev/stdout, /dev/null, a named pipe) is
//   opened and written in place, never replaced.
// - A regular file is replaced atomically: a temp file beside it
//   (".NAME.tmp.XXXXXX"), fsynced, renamed over it, the directory fsynced.
//   A reader never sees half a file. The file's mode is kept, and its owner
//   and group when running as root (otherwise its group where the caller
//   may set it). A new file gets mode 0644.
// - A symlink is followed (a chain of them too) and its final target is
//   replaced that way, in the target's own directory: the link stays a link
//   and the file it names gets the new content. A dangling symlink creates
//   its target when the target's directory exists, else it is an error
//   naming the link and the target.
// - A directory, a socket or a block device is an error naming the path.
//
// Errors name the path as given (Error::file) and what is wrong; callers
// add the flag.
//
// Thread safety: reentrant; concurrent writers of one path race (the last
// rename wins; no regular file is ever half-written).
#pragma once

#include <string>

#include "stemedb/base/error.h"

namespace stemedb {

// Where an output goes, found by ResolveOutput.
struct OutputTarget {
  enum class Kind {
    kStdout,   // "-"
    kInPlace,  // a character device or FIFO: opened and written
    kReplace,  // a regular file (or one to create): replaced atomically
  };
  Kind kind = Kind::kReplace;
  std::string named;  // the path as given
  std::string file;   // kInPlace, kReplace: the path after following links
};

// Follows `path` to what would be written. Fails for a directory (or a
// link to one), a socket, a block device, a symlink loop, a dangling link
// whose target's directory is missing.
Status ResolveOutput(const std::string& path, OutputTarget* out);

// One output staged for writing: for kReplace, the complete fsynced temp
// file beside the target; for the others, the content kept for Commit.
// Destroying an uncommitted StagedOutput removes its temp file.
class StagedOutput {
 public:
  StagedOutput() = default;
  StagedOutput(StagedOutput&& other) noexcept;
  StagedOutput& operator=(StagedOutput&& other) noexcept;
  StagedOutput(const StagedOutput&) = delete;
  StagedOutput& operator=(const StagedOutput&) = delete;
  ~StagedOutput();

  // Prepares writing `content` to `target`. Nothing visible changes.
  static Status Stage(const OutputTarget& target, std::string content,
                      StagedOutput* out);

  // Renames the temp file over the target (kReplace) or writes the content
  // to standard output or the device or FIFO (a FIFO waits for a reader).
  Status Commit();

  const OutputTarget& target() const { return target_; }

 private:
  void Discard();

  OutputTarget target_;
  std::string temp_;     // kReplace: the temp file while uncommitted
  std::string content_;  // kStdout, kInPlace
};

// ResolveOutput, Stage and Commit: writes `content` to `path` by the rule
// above.
Status WriteOutput(const std::string& path, const std::string& content);

}  // namespace stemedb
