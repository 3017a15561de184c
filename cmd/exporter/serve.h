// Serving: the engine's loops behind the HTTP server until SIGTERM/SIGINT,
// with SIGHUP reloading the config and the web config.
#pragma once

#include "flags.h"
#include "stemedb/config/config.h"
#include "stemedb/engine/options.h"

namespace stemedb::cmd {

// Returns the exit status (kExitUsage for a bad web flag or web config).
int Serve(const Flags& flags, Config config, exporter::ExporterOptions options);

}  // namespace stemedb::cmd
