// Where the server listens: the systemd sockets it may be handed. (The
// --web.listen-address forms are parsed by ParseListenAddress, server.h.)
//
// Thread safety: SystemdFds reads and clears the process environment; call
// it from one thread, at start-up.
#pragma once

#include <string>
#include <vector>

#include "stemedb/base/error.h"

namespace stemedb::exporter::detail {

// The descriptors systemd passed (LISTEN_FDS, from 3) into *out, when meant
// for this process; an error naming --web.systemd-socket when there are none.
Status SystemdFds(std::vector<int>* out);

}  // namespace stemedb::exporter::detail
