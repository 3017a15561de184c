#include "serve.h"

#include <sched.h>
#include <signal.h>
#include <sys/resource.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <utility>

#include "stemedb/base/log.h"
#include "stemedb/engine/exporter.h"
#include "stemedb/http/engine_view.h"
#include "stemedb/http/server.h"
#include "stemedb/http/web_config.h"

namespace stemedb::cmd {
namespace {

// Every connection costs a descriptor; like Go programs, take the hard
// limit (systemd's default soft limit is 1024).
void RaiseFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 &&
      limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

// Signals are taken synchronously by the main thread with sigwait, so they
// must be blocked before any other thread starts (threads inherit masks).
sigset_t BlockSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  // A scraper that disconnects mid-response must not kill the process.
  signal(SIGPIPE, SIG_IGN);
  return signals;
}

// The exporter is background work beside the database, so all its
// threads (they inherit this) run as SCHED_BATCH: the same CPU share,
// but a thread woken by a request or a file event waits for the running
// thread's slice instead of preempting it, whether that is the database
// or a scraper. Measured with bench/serve.py (wrk and the exporter
// sharing 2 cores): HTTP p99 2.3-2.8 -> 1.7-2.1 ms and 10 % more
// requests/s, since the server no longer preempts the client halfway.
// The systemd unit sets CPUSchedulingPolicy=batch itself and forbids this
// call (SystemCallFilter ~@resources), hence the check first.
void RunAsBatch() {
  if (sched_getscheduler(0) == SCHED_OTHER) {
    const sched_param param{};
    if (sched_setscheduler(0, SCHED_BATCH, &param) != 0) {
      log::Debug("SCHED_BATCH refused; running as is",
                 {{"err", std::strerror(errno)}});
    }
  }
}

// The web settings --web.config.file describes (none without the flag).
Status LoadWebSettings(const Flags& flags, exporter::WebSettings* out) {
  if (flags.web_config_file.empty()) {
    *out = {};
    return std::nullopt;
  }
  exporter::WebConfig web;
  if (Status err = exporter::LoadWebConfig(flags.web_config_file, &web)) {
    return Error::Message("--web.config.file: " + err->ToString());
  }
  if (Status err = exporter::MakeWebSettings(web, out)) {
    return Error::Message("--web.config.file: " + flags.web_config_file + ": " +
                          err->message);
  }
  return std::nullopt;
}

// The server options the --web.* flags describe.
Status ServerOptionsOf(const Flags& flags, exporter::ServerOptions* out) {
  out->listen_addresses = flags.listen_addresses;
  out->systemd_socket = flags.systemd_socket;
  out->telemetry_path = flags.telemetry_path;
  out->process_metrics = !flags.disable_exporter_metrics;
  if (Status err =
          DurationFlag("--web.read-header-timeout", flags.read_header_timeout,
                       &out->read_header_timeout)) {
    return err;
  }
  if (Status err = DurationFlag("--web.idle-timeout", flags.idle_timeout,
                                &out->idle_timeout)) {
    return err;
  }
  if (flags.max_connections < 1) {
    return Error::Message("--web.max-connections: must be at least 1");
  }
  out->max_connections = flags.max_connections;
  if (flags.io_threads < 1 || flags.io_threads > 16) {
    return Error::Message("--web.io-threads: must be from 1 to 16");
  }
  out->io_threads = flags.io_threads;
  if (flags.max_request_bytes < 1024) {
    return Error::Message("--web.max-request-bytes: must be at least 1024");
  }
  out->max_request_bytes = flags.max_request_bytes;
  return LoadWebSettings(flags, &out->web);
}

// Where the thresholds' defaults come from: StemeDB's config.toml, or why
// not.
void LogStemedbConfig(const Config& config) {
  switch (config.stemedb.state) {
    case StemedbConfig::State::kLoaded:
      log::Info("StemeDB config read; its values are threshold defaults",
                {{"file", config.stemedb.resolved_path}});
      break;
    case StemedbConfig::State::kAbsent:
      log::Info("StemeDB config absent; built-in threshold defaults apply",
                {{"file", config.stemedb.resolved_path}});
      break;
    case StemedbConfig::State::kDisabled:
      log::Info("StemeDB config not read (stemedb_config is empty)");
      break;
  }
}

// "backups:watch,data:watch,..." in config order: the mode asked for (a
// component on a remote filesystem is walked in watch mode too; the
// stemedb_disk_scan_mode metric says which it is).
std::string ComponentModes(const Config& config) {
  const char* mode = config.scan.mode == ScanMode::kWatch ? "watch" : "walk";
  std::string out;
  for (const Component& c : config.components) {
    out += (out.empty() ? "" : ",") + c.name + ":" + mode;
  }
  return out;
}

// The start-up line: what runs, on what, from which config, where it
// listens (as node_exporter logs its version and collectors).
void LogListening(const Flags& flags, const exporter::ServerOptions& options,
                  const exporter::Server& server, const Config& config) {
  std::string ports, addresses;
  for (int p : server.Ports()) {
    ports += (ports.empty() ? "" : ",") + std::to_string(p);
  }
  for (const auto& a : flags.listen_addresses) {
    addresses += (addresses.empty() ? "" : ",") + a;
  }
  log::Info("listening",
            {{"version", STEMEDB_VERSION},
             {"revision", STEMEDB_REVISION},
             {"config", config.source},
             {"root", config.root},
             {"components", ComponentModes(config)},
             {"address", flags.systemd_socket ? "systemd" : addresses},
             {"port", ports},
             {"tls", options.web.tls ? "true" : "false"},
             {"telemetry_path", flags.telemetry_path},
             {"exporter_metrics",
              flags.disable_exporter_metrics ? "false" : "true"}});
}

// SIGHUP: the config and the web config too; a bad one is logged, the
// running one kept and the reload reported failed. Nothing here waits on a
// file (they are read by the rule for user-named files) or on bcrypt
// (BasicAuth hashes nothing when built), so SIGTERM is never held up.
void Reload(const Flags& flags, exporter::Exporter& exporter,
            exporter::Server& server) {
  exporter::WebSettings web;
  Status web_err = LoadWebSettings(flags, &web);
  if (web_err) {
    log::Error("web config reload failed; keeping the running one",
               {{"err", web_err->message}});
  }
  exporter.Reload(web_err.has_value());
  if (!web_err && !flags.web_config_file.empty()) {
    server.SetWebSettings(std::move(web));
    log::Info("web config reloaded", {{"file", flags.web_config_file}});
  }
}

}  // namespace

int Serve(const Flags& flags, Config config,
          exporter::ExporterOptions options) {
  sigset_t signals = BlockSignals();
  RunAsBatch();
  LogStemedbConfig(config);
  exporter::Exporter exporter(
      std::move(config),
      [&flags](Config* out) {
        return LoadConfig(flags.config_file, flags.root, out);
      },
      std::move(options));
  exporter::ServerOptions server_options;
  if (Status err = ServerOptionsOf(flags, &server_options)) {
    return Fail(err->message);
  }
  RaiseFileLimit();
  exporter::EngineView view(&exporter);
  std::unique_ptr<exporter::Server> server;
  if (Status err = exporter::Server::Start(server_options, &view, &server)) {
    return Fail(err->message);
  }
  exporter.Start();
  LogListening(flags, server_options, *server, exporter.CurrentConfig());
  for (;;) {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0) continue;
    if (sig == SIGHUP) {
      Reload(flags, exporter, *server);
      continue;
    }
    log::Info("shutting down", {{"signal", strsignal(sig)}});
    break;
  }
  server.reset();  // stop taking requests before the engine goes away
  exporter.Stop();
  return 0;
}

}  // namespace stemedb::cmd
