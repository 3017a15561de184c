// Replacing a file so that no reader ever sees half of it: the content goes
// to a temp file beside the target (".NAME.tmp.XXXXXX": no reader that picks
// files by suffix, like node_exporter's *.prom, takes it), is fsynced, and
// renamed over the target; then the directory is fsynced.
//
// Thread safety: reentrant; concurrent writers of one path race (the last
// rename wins; no file is ever half-written).
#pragma once

#include <string>

#include "stemedb/base/error.h"

namespace stemedb {

// Writes a complete, fsynced temp file next to `target` (whose directory
// must exist), mode 0644; its path in *temp. On failure nothing is
// left behind and the error names the path.
Status WriteTempBeside(const std::string& target, const std::string& content,
                       std::string* temp);

// Renames a temp file from WriteTempBeside over `target` and fsyncs the
// directory. On failure the temp file is removed.
Status CommitTemp(const std::string& temp, const std::string& target);

// Both: replaces `target` with `content` atomically.
Status WriteFileAtomically(const std::string& target,
                           const std::string& content);

}  // namespace stemedb
