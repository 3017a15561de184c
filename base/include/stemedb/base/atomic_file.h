// Replacing a file so that no reader ever sees half of it: the content goes
// to a temp file beside the target (".NAME.tmp.XXXXXX": no reader that picks
// files by suffix, like node_exporter's *.prom, takes it), is fsynced, and
// renamed over the target; then the directory is fsynced.
//
// Thread safety: reentrant; concurrent writers of one path race (the last
// rename wins; no file is ever half-written).
#pragma once

#include <sys/types.h>

#include <string>

#include "stemedb/base/error.h"

namespace stemedb {

// The mode, owner and group a temp file gets before its content goes in.
struct TempFileMode {
  mode_t mode = 0644;
  uid_t uid = static_cast<uid_t>(-1);  // -1: as created (the caller)
  gid_t gid = static_cast<gid_t>(-1);  // -1: as created
};

// Writes all of `content` to `fd` (retrying short writes and EINTR); false
// with errno set on failure.
bool WriteAll(int fd, const std::string& content);

// Writes a complete, fsynced temp file next to `target` (whose directory
// must exist) with `mode`; its path in *temp. On failure nothing is left
// behind and the error names the path.
Status WriteTempBeside(const std::string& target, const std::string& content,
                       const TempFileMode& mode, std::string* temp);

// Renames a temp file from WriteTempBeside over `target` and fsyncs the
// directory. On failure the temp file is removed.
Status CommitTemp(const std::string& temp, const std::string& target);

// Both: replaces `target` with `content` atomically, mode 0644. For a path
// a user names, use WriteOutput (stemedb/base/output_file.h) instead.
Status WriteFileAtomically(const std::string& target,
                           const std::string& content);

}  // namespace stemedb
