// Number formatting shared by the verdict's sentences and the renderers.
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>

namespace stemedb::diagnose::detail {

// Like `df -h` and `du -h`: powers of 1024 with K, M, G, T, P, E, rounded
// up, one decimal below 10 ("2.0M", "500M", "99G"); below 1024 plain bytes.
std::string HumanBytes(uint64_t bytes);

// Like df's Use% and IUse% columns: ceil(100 * used / (used + avail)); -1
// when used + avail is 0 (df prints "-").
int DfPercent(uint64_t used, uint64_t avail);

// `ratio` in percent with one decimal ("99.2%"); rounded down below 100 and
// up above 0, so a threshold that is crossed never reads as equal to it.
std::string Percent(double ratio);

// Like `df -hi`'s inode columns (the same powers of 1024): "64", "6.2M".
std::string HumanCount(uint64_t count);

// A duration in the largest whole unit that fits: "3d", "5h", "12m", "40s".
std::string Age(double seconds);

}  // namespace stemedb::diagnose::detail
