// Clock helpers: a stat(2) timestamp and the wall clock as seconds since the
// epoch, the unit every timestamp metric uses.
//
// Thread safety: pure functions.
#pragma once

#include <ctime>

namespace stemedb {

// `ts` (st_mtim, st_ctim, ...) in seconds, with the sub-second part.
double Seconds(const struct timespec& ts);

// The wall clock now (std::chrono::system_clock), in seconds.
double WallSeconds();

}  // namespace stemedb
