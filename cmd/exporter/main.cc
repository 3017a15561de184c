// stemedb_disk_exporter: command line, signals and wiring. Exceptions and
// error values from the units end here as a message and an exit code.
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <boost/filesystem.hpp>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "exporter_testing.h"
#include "stemedb/base/atomic_file.h"
#include "stemedb/base/log.h"
#include "stemedb/base/user_file.h"
#include "stemedb/base/utf8.h"
#include "stemedb/cli/suggest.h"
#include "stemedb/config/config.h"
#include "stemedb/diagnose/fetch.h"
#include "stemedb/diagnose/render.h"
#include "stemedb/diagnose/snapshot_numbers.h"
#include "stemedb/engine/exporter.h"
#include "stemedb/http/engine_view.h"
#include "stemedb/http/server.h"
#include "stemedb/http/web_config.h"

namespace {

constexpr int kExitUsage = 2;

// The end of --help, and so of the man page help2man makes from it.
constexpr const char* kFooter = R"(Endpoints:
  /                  landing page
  /metrics           metrics (--web.telemetry-path)
  /diagnose          the runbook's Quick Diagnosis of the last scan (JSON)
  /-/healthy         200 while the process serves
  /-/ready           200 after the first walk finished within scan.timeout

Signals:
  SIGHUP             re-read --config and --web.config.file; a bad file is
                     logged and the running one kept (systemctl reload
                     stemedb-disk-exporter)
  Certificates in --web.config.file are re-read when they change on disk.
  SIGTERM, SIGINT    stop cleanly

Exit status:
  0  success
  1  unexpected failure (or an I/O error writing --textfile)
  2  bad flag or config (the message names the flag, or file:line:column)

Diagnosis (see `stemedb_disk_exporter diagnose --help`):
  stemedb_disk_exporter diagnose     walk the runbook's Quick Diagnosis
                                     with live numbers; exit 0..3 like a
                                     monitoring plugin

Examples:
  stemedb_disk_exporter --config /etc/stemedb/disk-exporter.yaml
  stemedb_disk_exporter --root /var/lib/stemedb --web.listen-address 127.0.0.1:19180
  stemedb_disk_exporter --once --root /var/lib/stemedb
  stemedb_disk_exporter --once --textfile /var/lib/prometheus/node-exporter/stemedb.prom)";

// The end of `diagnose --help`.
constexpr const char* kDiagnoseFooter =
    R"(Walks the layout once (or reads --from), answers the runbook's Quick
Diagnosis tree (df -h, du -sh data/wal/, du -sh data/db/, df -i) with live
numbers, lists what each cleanup rule would free with the command that frees
it, the largest directories and those with the most entries, and names the
runbook section to go to and why. Writes nothing (works on a full or
read-only disk) and needs no running exporter.

Exit status (monitoring-plugin convention, the alerts' thresholds):
  0  OK        every filesystem within the thresholds
  1  WARNING   a warning threshold is crossed
  2  CRITICAL  a critical threshold is crossed
  3  UNKNOWN   no answer: bad flag or config, statvfs hung, --from failed

Examples:
  stemedb_disk_exporter diagnose --config /etc/stemedb/disk-exporter.yaml
  stemedb_disk_exporter diagnose --from http://127.0.0.1:19180
  stemedb_disk_exporter diagnose --root /var/lib/stemedb --format json)";

struct DiagnoseFlags {
  std::string config_file;
  std::string root;
  std::string from;
  std::string from_user;
  std::string from_password_file;
  std::string from_ca_file;
  std::string from_cert_file;
  std::string from_key_file;
  std::string from_timeout = "10s";
  std::string format = "text";
};

struct Flags {
  std::string config_file;
  std::string root;
  bool once = false;
  std::string textfile;
  std::vector<std::string> listen_addresses = {":19180"};
  bool systemd_socket = false;
  std::string telemetry_path = "/metrics";
  std::string web_config_file;
  std::string read_header_timeout = "10s";
  std::string idle_timeout = "2m";
  int max_connections = 4096;
  int io_threads = 1;
  size_t max_request_bytes = 64 * 1024;
  std::string log_level = "info";
  std::string log_format = "logfmt";
  bool version = false;
  DiagnoseFlags diagnose;
  // Hidden test seams (--testing.*), see exporter_testing.h.
  int64_t testing_overflow_after = -1;
  int64_t testing_max_watches = -1;
  std::optional<int64_t> testing_per_name_min_entries;
  std::vector<std::string> testing_fs_types;
};

int Fail(const std::string& message) {
  std::cerr << "stemedb_disk_exporter: error: "
            << stemedb::EscapeForTerminal(message) << "\n";
  return kExitUsage;
}

// Loads the config the flags describe: the file (or the embedded default),
// then --root over it.
std::optional<stemedb::ConfigError> LoadConfig(const Flags& flags,
                                               stemedb::Config* out) {
  stemedb::Config config;
  if (flags.config_file.empty()) {
    config = stemedb::DefaultConfig();
  } else if (auto err = stemedb::LoadConfigFile(flags.config_file, &config)) {
    return err;
  }
  if (!flags.root.empty()) {
    if (auto err = stemedb::OverrideRoot(flags.root, &config)) return err;
  }
  *out = std::move(config);
  return std::nullopt;
}

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

// A positive duration flag ("10s", "2m").
std::optional<std::chrono::milliseconds> DurationFlag(const std::string& name,
                                                      const std::string& text,
                                                      std::string* error) {
  auto d = stemedb::ParseDuration(text);
  if (!d || d->value.count() <= 0) {
    *error =
        name + ": \"" + text + "\" is not a positive duration (e.g. 10s, 2m)";
    return std::nullopt;
  }
  return d->value;
}

// The web settings --web.config.file describes (none without the flag).
std::optional<std::string> LoadWebSettings(
    const Flags& flags, stemedb::exporter::WebSettings* out) {
  if (flags.web_config_file.empty()) {
    *out = {};
    return std::nullopt;
  }
  stemedb::exporter::WebConfig web;
  if (auto err =
          stemedb::exporter::LoadWebConfig(flags.web_config_file, &web)) {
    return "--web.config.file: " + err->ToString();
  }
  if (auto err = stemedb::exporter::MakeWebSettings(web, out)) {
    return "--web.config.file: " + flags.web_config_file + ": " + err->message;
  }
  return std::nullopt;
}

int Run(const Flags& flags) {
  auto level = stemedb::log::ParseLevel(flags.log_level);
  if (!level) {
    return Fail("--log.level: \"" + flags.log_level +
                "\" is not one of debug, info, warn, error");
  }
  auto format = stemedb::log::ParseFormat(flags.log_format);
  if (!format) {
    return Fail("--log.format: \"" + flags.log_format +
                "\" is not one of logfmt, json");
  }
  stemedb::log::Configure(*level, *format);

  if (!flags.root.empty()) {
    boost::system::error_code ec;
    if (!boost::filesystem::is_directory(flags.root, ec)) {
      return Fail("--root: " + flags.root + ": not a directory");
    }
  }
  if (!flags.textfile.empty() && !flags.once) {
    return Fail("--textfile: only with --once");
  }
  stemedb::Config config;
  if (auto err = LoadConfig(flags, &config)) return Fail(err->ToString());
  stemedb::exporter::testing::WatchSeams seams;
  seams.overflow_after = flags.testing_overflow_after;
  seams.max_watches = flags.testing_max_watches;
  seams.per_name_min_entries = flags.testing_per_name_min_entries;
  for (const std::string& spec : flags.testing_fs_types) {
    const size_t eq = spec.rfind('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size()) {
      return Fail("--testing.fs-type: \"" + spec + "\" is not PATH=TYPE");
    }
    seams.fs_types.emplace_back(spec.substr(0, eq), spec.substr(eq + 1));
  }
  stemedb::exporter::testing::SetWatchSeams(std::move(seams));

  if (flags.once) {
    stemedb::exporter::Exporter exporter(std::move(config), nullptr);
    exporter.RunOnce();
    auto text = exporter.Exposition();
    if (flags.textfile.empty()) {
      std::fwrite(text->data(), 1, text->size(), stdout);
      return std::fflush(stdout) == 0 ? 0 : 1;
    }
    // node_exporter's textfile collector never sees half a file (nor the
    // temp file: it reads only *.prom).
    if (stemedb::Status err =
            stemedb::WriteFileAtomically(flags.textfile, *text)) {
      // An I/O failure (a full disk, say), not a usage error: exit 1.
      std::cerr << "stemedb_disk_exporter: error: --textfile: "
                << err->ToString() << "\n";
      return 1;
    }
    return 0;
  }

  // Signals are taken synchronously by this thread with sigwait, so they
  // must be blocked before any other thread starts (threads inherit masks).
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  // A scraper that disconnects mid-response must not kill the process.
  signal(SIGPIPE, SIG_IGN);
  // The exporter is background work beside the database, so all its
  // threads (they inherit this) run as SCHED_BATCH: the same CPU share,
  // but a thread woken by a request or a file event waits for the running
  // thread's slice instead of preempting it, whether that is the database
  // or a scraper. Measured with bench/serve.py (wrk and the exporter
  // sharing 2 cores): HTTP p99 2.3-2.8 -> 1.7-2.1 ms and 10 % more
  // requests/s, since the server no longer preempts the client halfway.
  // The systemd unit sets CPUSchedulingPolicy=batch itself and forbids this
  // call (SystemCallFilter ~@resources), hence the check first.
  if (sched_getscheduler(0) == SCHED_OTHER) {
    const sched_param param{};
    if (sched_setscheduler(0, SCHED_BATCH, &param) != 0) {
      stemedb::log::Debug("SCHED_BATCH refused; running as is",
                          {{"err", std::strerror(errno)}});
    }
  }

  stemedb::exporter::Exporter exporter(
      std::move(config),
      [&flags](stemedb::Config* out) { return LoadConfig(flags, out); });
  stemedb::exporter::ServerOptions server_options;
  server_options.listen_addresses = flags.listen_addresses;
  server_options.systemd_socket = flags.systemd_socket;
  server_options.telemetry_path = flags.telemetry_path;
  std::string error;
  auto header_timeout = DurationFlag("--web.read-header-timeout",
                                     flags.read_header_timeout, &error);
  if (!header_timeout) return Fail(error);
  auto idle_timeout =
      DurationFlag("--web.idle-timeout", flags.idle_timeout, &error);
  if (!idle_timeout) return Fail(error);
  server_options.read_header_timeout = *header_timeout;
  server_options.idle_timeout = *idle_timeout;
  if (flags.max_connections < 1) {
    return Fail("--web.max-connections: must be at least 1");
  }
  server_options.max_connections = flags.max_connections;
  if (flags.io_threads < 1 || flags.io_threads > 16) {
    return Fail("--web.io-threads: must be from 1 to 16");
  }
  server_options.io_threads = flags.io_threads;
  if (flags.max_request_bytes < 1024) {
    return Fail("--web.max-request-bytes: must be at least 1024");
  }
  server_options.max_request_bytes = flags.max_request_bytes;
  if (auto err = LoadWebSettings(flags, &server_options.web)) {
    return Fail(*err);
  }
  RaiseFileLimit();
  stemedb::exporter::EngineView view(&exporter);
  std::unique_ptr<stemedb::exporter::Server> server;
  if (auto err =
          stemedb::exporter::Server::Start(server_options, &view, &server)) {
    return Fail(err->message);
  }
  exporter.Start();
  std::string ports, addresses;
  for (int p : server->Ports())
    ports += (ports.empty() ? "" : ",") + std::to_string(p);
  for (const auto& a : flags.listen_addresses)
    addresses += (addresses.empty() ? "" : ",") + a;
  stemedb::log::Info("listening",
                     {{"address", flags.systemd_socket ? "systemd" : addresses},
                      {"port", ports},
                      {"tls", server_options.web.tls ? "true" : "false"},
                      {"telemetry_path", flags.telemetry_path},
                      {"version", STEMEDB_VERSION}});

  for (;;) {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0) continue;
    if (sig == SIGHUP) {
      // The web config too; a bad one is logged, the running one kept and
      // the reload reported failed. Nothing here waits on a file (they are
      // read by the rule for user-named files) or on bcrypt (BasicAuth
      // hashes nothing when built), so SIGTERM is never held up.
      stemedb::exporter::WebSettings web;
      auto web_err = LoadWebSettings(flags, &web);
      if (web_err) {
        stemedb::log::Error("web config reload failed; keeping the running one",
                            {{"err", *web_err}});
      }
      exporter.Reload(web_err.has_value());
      if (!web_err && !flags.web_config_file.empty()) {
        server->SetWebSettings(std::move(web));
        stemedb::log::Info("web config reloaded",
                           {{"file", flags.web_config_file}});
      }
      continue;
    }
    stemedb::log::Info("shutting down", {{"signal", strsignal(sig)}});
    break;
  }
  server.reset();  // stop taking requests before the engine goes away
  exporter.Stop();
  return 0;
}

constexpr int kDiagnoseUnknown = 3;

int DiagnoseFail(const std::string& message) {
  // Paths, URLs and a server's reason phrase reach the terminal here.
  std::cerr << "stemedb_disk_exporter diagnose: error: "
            << stemedb::EscapeForTerminal(message) << "\n";
  return kDiagnoseUnknown;
}

// Reads the first line of a password file (no trailing newline).
std::optional<std::string> ReadPassword(const std::string& path,
                                        std::string* password) {
  std::string text;
  if (auto err =
          stemedb::ReadUserFile(path, stemedb::kPasswordFileKind, &text)) {
    return err->ToString();
  }
  *password = text.substr(0, text.find_first_of("\r\n"));
  return std::nullopt;
}

int RunDiagnose(const DiagnoseFlags& flags) {
  // Warnings only, on stderr: the report is the output.
  stemedb::log::Configure(stemedb::log::Level::kWarn,
                          stemedb::log::Format::kLogfmt);
  if (flags.format != "text" && flags.format != "json") {
    return DiagnoseFail("--format: \"" + flags.format +
                        "\" is not one of text, json");
  }
  stemedb::diagnose::Numbers numbers;
  stemedb::diagnose::Limits limits;
  if (!flags.from.empty()) {
    if (!flags.config_file.empty() || !flags.root.empty()) {
      return DiagnoseFail(
          "--from reads the exporter's own config and root: drop --config "
          "and --root");
    }
    stemedb::diagnose::FetchOptions options;
    options.user = flags.from_user;
    options.ca_file = flags.from_ca_file;
    options.cert_file = flags.from_cert_file;
    options.key_file = flags.from_key_file;
    if (options.cert_file.empty() != options.key_file.empty()) {
      return DiagnoseFail("--from.cert-file and --from.key-file go together");
    }
    std::string error;
    auto timeout = DurationFlag("--from.timeout", flags.from_timeout, &error);
    if (!timeout) return DiagnoseFail(error);
    options.timeout = *timeout;
    if (!flags.from_password_file.empty()) {
      if (flags.from_user.empty()) {
        return DiagnoseFail("--from.password-file: only with --from.user");
      }
      if (auto err =
              ReadPassword(flags.from_password_file, &options.password)) {
        return DiagnoseFail("--from.password-file: " + *err);
      }
    }
    std::string body;
    if (auto err =
            stemedb::diagnose::FetchDiagnosis(flags.from, options, &body)) {
      return DiagnoseFail("--from: " + *err);
    }
    if (stemedb::Status err =
            stemedb::diagnose::ParseJson(body, &numbers, &limits)) {
      err->file = flags.from + "/diagnose";
      err->message = "not a diagnosis: " + err->message;
      return DiagnoseFail("--from: " + err->ToString());
    }
  } else {
    Flags config_flags;
    config_flags.config_file = flags.config_file;
    config_flags.root = flags.root;
    if (!flags.root.empty()) {
      boost::system::error_code ec;
      if (!boost::filesystem::is_directory(flags.root, ec)) {
        return DiagnoseFail("--root: " + flags.root + ": not a directory");
      }
    }
    stemedb::Config config;
    if (auto err = LoadConfig(config_flags, &config)) {
      return DiagnoseFail(err->ToString());
    }
    numbers = stemedb::exporter::WalkNumbers(config);
    limits = stemedb::diagnose::LimitsFrom(config.thresholds);
  }
  const auto report = stemedb::diagnose::Diagnose(std::move(numbers), limits);
  const std::string out = flags.format == "json"
                              ? stemedb::diagnose::RenderJson(report)
                              : stemedb::diagnose::RenderText(report);
  std::fwrite(out.data(), 1, out.size(), stdout);
  if (std::fflush(stdout) != 0) return kDiagnoseUnknown;
  return static_cast<int>(report.status);
}

// `diagnose` and its flags.
CLI::App* AddDiagnose(CLI::App& app, DiagnoseFlags* flags) {
  CLI::App* sub = app.add_subcommand(
      "diagnose",
      "Walk the runbook's Quick Diagnosis with live numbers and name the "
      "section to go to (exit 0 ok, 1 warning, 2 critical, 3 unknown)");
  sub->get_formatter()->column_width(34);
  sub->add_option("--config", flags->config_file,
                  "YAML config file (default: the embedded default layout)")
      ->type_name("FILE")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  sub->add_option("--root", flags->root,
                  "StemeDB data root; overrides the config's root")
      ->type_name("DIR");
  sub->add_option("--from", flags->from,
                  "Read a running exporter's GET /diagnose instead of "
                  "walking (http://host:port or https://...)")
      ->type_name("URL");
  sub->add_option("--from.user", flags->from_user,
                  "With --from: basic auth user")
      ->type_name("USER");
  sub->add_option("--from.password-file", flags->from_password_file,
                  "With --from: file whose first line is the password")
      ->type_name("FILE");
  sub->add_option("--from.ca-file", flags->from_ca_file,
                  "With an https --from: trust this CA instead of the "
                  "system's")
      ->type_name("FILE");
  sub->add_option("--from.cert-file", flags->from_cert_file,
                  "With an https --from: client certificate (mTLS)")
      ->type_name("FILE");
  sub->add_option("--from.key-file", flags->from_key_file,
                  "With --from.cert-file: its private key")
      ->type_name("FILE");
  sub->add_option("--from.timeout", flags->from_timeout,
                  "With --from: time for the whole request")
      ->type_name("DURATION")
      ->capture_default_str();
  sub->add_option("--format", flags->format,
                  "Output: text (80 columns, for people) or json (for tools)")
      ->type_name("OUTPUT")
      ->capture_default_str();
  sub->footer(kDiagnoseFooter);
  return sub;
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  CLI::App app{
      "Prometheus exporter for the disk usage of a StemeDB data layout: "
      "per-component bytes, files, WAL segments, and filesystem capacity.",
      "stemedb_disk_exporter"};
  app.get_formatter()->column_width(34);
  app.add_option("--config", flags.config_file,
                 "YAML config file (default: the embedded default layout, "
                 "see config/default.yaml); the last one given wins, so "
                 "ARGS in /etc/default can override the unit's")
      ->type_name("FILE")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.add_option("--root", flags.root,
                 "StemeDB data root; overrides the config's root (relative "
                 "component paths follow it)")
      ->type_name("DIR");
  app.add_flag("--once", flags.once,
               "Scan once, print the exposition text to stdout and exit");
  app.add_option("--textfile", flags.textfile,
                 "With --once: write a node_exporter textfile-collector file "
                 "(atomically) instead of stdout")
      ->type_name("FILE");
  app.add_option("--web.listen-address", flags.listen_addresses,
                 "Address to listen on; repeat for several (host:port, "
                 "[IPv6]:port, :port for every interface, IPv4 and IPv6)")
      ->type_name("HOST:PORT")
      ->capture_default_str();
  app.add_flag("--web.systemd-socket", flags.systemd_socket,
               "Use systemd socket activation listeners instead of "
               "--web.listen-address");
  app.add_option("--web.telemetry-path", flags.telemetry_path,
                 "Path under which to expose metrics")
      ->type_name("PATH")
      ->capture_default_str();
  app.add_option("--web.config.file", flags.web_config_file,
                 "exporter-toolkit web config: tls_server_config, "
                 "http_server_config, basic_auth_users")
      ->type_name("FILE");
  app.add_option("--web.read-header-timeout", flags.read_header_timeout,
                 "Time a request's header (and a TLS handshake) may take "
                 "from its first byte")
      ->type_name("DURATION")
      ->capture_default_str();
  app.add_option("--web.idle-timeout", flags.idle_timeout,
                 "Time a keep-alive connection may wait for its next request")
      ->type_name("DURATION")
      ->capture_default_str();
  app.add_option("--web.max-connections", flags.max_connections,
                 "Open connections at most; beyond it the longest-idle one is "
                 "closed")
      ->type_name("N")
      ->capture_default_str();
  app.add_option("--web.io-threads", flags.io_threads,
                 "Threads serving HTTP (each holds its connections); one "
                 "serves thousands of clients")
      ->type_name("N")
      ->capture_default_str();
  app.add_option("--web.max-request-bytes", flags.max_request_bytes,
                 "Largest request (header, or body) accepted")
      ->type_name("BYTES")
      ->capture_default_str();
  app.add_option("--log.level", flags.log_level,
                 "Only log messages at or above: debug, info, warn, error")
      ->type_name("LEVEL")
      ->capture_default_str();
  app.add_option("--log.format", flags.log_format, "Log format: logfmt or json")
      ->type_name("FORMAT")
      ->capture_default_str();
  app.add_flag("--version", flags.version, "Print version and exit");
  // Test seams: not in --help (an empty group hides an option).
  app.add_option("--testing.watch-overflow-after", flags.testing_overflow_after)
      ->group("");
  app.add_option("--testing.max-watches", flags.testing_max_watches)->group("");
  app.add_option("--testing.watch-per-name-min-entries",
                 flags.testing_per_name_min_entries)
      ->group("");
  app.add_option("--testing.fs-type", flags.testing_fs_types)->group("");
  app.footer(kFooter);
  CLI::App* diagnose = AddDiagnose(app, &flags.diagnose);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ExtrasError&) {
    if (diagnose->parsed()) {
      return DiagnoseFail(stemedb::cli::UnknownArgumentsMessage(*diagnose));
    }
    return Fail(stemedb::cli::UnknownArgumentsMessage(app));
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return diagnose->parsed() ? kDiagnoseUnknown : kExitUsage;
  }
  if (diagnose->parsed()) {
    try {
      return RunDiagnose(flags.diagnose);
    } catch (const std::exception& e) {
      std::cerr << "stemedb_disk_exporter diagnose: fatal: "
                << stemedb::EscapeForTerminal(e.what()) << "\n";
      return kDiagnoseUnknown;
    }
  }
  if (flags.version) {
    std::cout << "stemedb_disk_exporter, version " << STEMEDB_VERSION
              << " (revision: " << STEMEDB_REVISION << ")\n";
    return 0;
  }
  try {
    return Run(flags);
  } catch (const std::exception& e) {
    // Last line of defence: the units return errors as values.
    std::cerr << "stemedb_disk_exporter: fatal: "
              << stemedb::EscapeForTerminal(e.what()) << "\n";
    return 1;
  }
}
