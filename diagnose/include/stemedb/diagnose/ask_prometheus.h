// `diagnose --prometheus URL`: asks a Prometheus for the time until full of
// this node's filesystems (time_until_full.h has what is read and how it
// is shown). In the remote unit with the --from client (fetch.h), apart
// from the pure diagnosis, so that what links the diagnosis alone (the
// engine) does not carry an HTTP client.
//
// Thread safety: reentrant (each call owns its connections).
#pragma once

#include <string>

#include "stemedb/diagnose/fetch.h"
#include "stemedb/diagnose/time_until_full.h"

namespace stemedb::diagnose {

// Asks `url` (http://host:port[/prefix]); never fails: an unreachable or
// odd Prometheus is `reached = false` with the reason.
TimeUntilFull AskPrometheus(const std::string& url, const std::string& instance,
                            const FetchOptions& options);

}  // namespace stemedb::diagnose
