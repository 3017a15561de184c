// Helpers of the measure unit's tests beyond the shared test support: running
// a piece of a test in a forked child (to drop privileges or to mount in a
// private mount namespace) with its findings sent back over a pipe.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "test_support.h"

namespace stemedb::testutil {

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
