// Helpers shared by the scanner unit's tests: temporary trees, running du,
// and running a piece of a test in a forked child (to drop privileges or to
// mount in a private mount namespace) with its findings sent back over a pipe.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "temp_dir.h"

namespace stemedb::testutil {

// Writes `size` bytes of non-zero content (so every byte is allocated).
void WriteFile(const std::string& path, size_t size);
void MakeDir(const std::string& path);
// st_size of `path` (lstat), for directories whose size the filesystem picks.
uint64_t ApparentSize(const std::string& path);
// st_blocks * 512 of `path` (lstat).
uint64_t AllocatedSize(const std::string& path);

// Runs a shell command; returns its stdout. Aborts the test on failure to run.
std::string Run(const std::string& command);

// du's total for `path`: allocated (--block-size=1) or apparent (-b), and
// with -x when `one_filesystem`.
uint64_t Du(const std::string& path, bool apparent,
            bool one_filesystem = false);

// Runs `body` in a forked child and returns what it wrote as "key value"
// lines. A child that crashes or exits non-zero yields a map with the key
// "child_failed" holding a description. `body` may return an error text in
// the key "error".
std::map<std::string, std::string> RunInChild(
    const std::function<std::map<std::string, std::string>()>& body);

// Child results travel as "key value" strings: Num writes a number, U64
// reads one back (a missing key fails the test and reads as 0).
std::string Num(uint64_t v);
uint64_t U64(const std::map<std::string, std::string>& m, const std::string& k);

// In the calling (child) process: a private mount namespace in which mounts
// are allowed (as root directly; otherwise inside a new user namespace).
// Returns an error text, empty on success.
std::string EnterPrivateMountNamespace();

// In the calling (child) process: become uid/gid 65534 with no groups.
std::string DropToNobody();

}  // namespace stemedb::testutil
