#include "flags.h"

#include <iostream>
#include <utility>

namespace stemedb::cmd {
namespace {

// The end of --help, and so of the man page help2man makes from it.
constexpr const char* kFooter = R"(Endpoints:
  /                  landing page
  /metrics           metrics (--web.telemetry-path)
  /diagnose          the runbook's Quick Diagnosis of the last scan (JSON)
  /diagnose/growth   directories growing fastest, last hour and day (JSON)
  /-/healthy         200 while the process serves
  /-/ready           200 after the first walk finished within scan.timeout

Signals:
  SIGHUP             re-read --config and --web.config.file; a bad file is
                     logged and the running one kept (systemctl reload
                     stemedb-disk-exporter)
  Certificates in --web.config.file are re-read when they change on disk.
  SIGTERM, SIGINT    stop cleanly

Exit status (diagnose has its own, see below):
  0  success
  1  runtime failure: an I/O error writing --textfile, an unexpected error
  2  bad flag, config or web config, or a listen address that cannot be
     bound (the message names the flag, or file:line:column); nothing ran

Diagnosis (see `stemedb_disk_exporter diagnose --help`):
  stemedb_disk_exporter diagnose     walk the runbook's Quick Diagnosis
                                     with live numbers; exit 0..3 like a
                                     monitoring plugin

Examples:
  stemedb_disk_exporter --config /etc/stemedb/disk-exporter.yaml
  stemedb_disk_exporter --root /var/lib/stemedb \
      --web.listen-address 127.0.0.1:19180
  stemedb_disk_exporter --once --root /var/lib/stemedb
  stemedb_disk_exporter --once \
      --textfile /var/lib/prometheus/node-exporter/stemedb.prom)";

// The end of `diagnose --help`.
constexpr const char* kDiagnoseFooter =
    R"(Walks the layout once (or reads --from), answers the runbook's Quick
Diagnosis tree (df -h, du -sh data/wal/, du -sh data/db/, df -i) with live
numbers, lists what each cleanup rule would free with the command that frees
it, the largest directories and those with the most entries, and names the
runbook section to go to and why. Writes nothing (works on a full or
read-only disk) and needs no running exporter. With --from it also shows
the directories growing fastest over the last hour and day (the exporter's
history); with --prometheus, time until full per filesystem.

Exit status (monitoring-plugin convention, the alerts' thresholds):
  0  OK        every filesystem within the thresholds
  1  WARNING   a warning threshold is crossed
  2  CRITICAL  a critical threshold is crossed
  3  UNKNOWN   no answer: bad flag or config, statvfs hung, --from failed

Examples:
  stemedb_disk_exporter diagnose --config /etc/stemedb/disk-exporter.yaml
  stemedb_disk_exporter diagnose --from http://127.0.0.1:19180
  stemedb_disk_exporter diagnose --from http://127.0.0.1:19180 \
      --prometheus http://prometheus:9090
  stemedb_disk_exporter diagnose --root /var/lib/stemedb --format json)";

// The hidden --testing.* flags (not in --help: an empty group hides an
// option).
void DefineTestingFlags([[maybe_unused]] CLI::App& app,
                        [[maybe_unused]] TestingFlags* flags) {
#ifdef STEMEDB_EXPORTER_TESTING
  app.add_option("--testing.watch-overflow-after", flags->overflow_after)
      ->group("");
  app.add_option("--testing.max-watches", flags->max_watches)->group("");
  app.add_option("--testing.watch-per-name-min-entries",
                 flags->per_name_min_entries)
      ->group("");
  app.add_option("--testing.fs-type", flags->fs_types)->group("");
#endif
}

}  // namespace

// `diagnose` and its flags.
CLI::App* DefineDiagnoseFlags(CLI::App& app, DiagnoseFlags* flags) {
  CLI::App* sub = app.add_subcommand(
      "diagnose",
      "Walk the runbook's Quick Diagnosis with live numbers and name the "
      "section to go to (exit 0 ok, 1 warning, 2 critical, 3 unknown)");
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
  sub->add_option("--prometheus", flags->prometheus,
                  "Also show time until full per filesystem from this "
                  "Prometheus' recording rules (never changes the exit code)")
      ->type_name("URL");
  sub->add_option("--prometheus.instance", flags->prometheus_instance,
                  "With --prometheus: this node's instance label (default: "
                  "--from's host:port, else HOSTNAME:19180)")
      ->type_name("HOST:PORT");
  sub->add_option("--prometheus.timeout", flags->prometheus_timeout,
                  "With --prometheus: time for each request")
      ->type_name("DURATION")
      ->capture_default_str();
  sub->add_option("--format", flags->format,
                  "Output: text (80 columns, for people) or json (for tools)")
      ->type_name("OUTPUT")
      ->capture_default_str();
  sub->footer(kDiagnoseFooter);
  return sub;
}

CLI::App* DefineFlags(CLI::App& app, Flags* flags) {
  cli::UseHelpLayout(app, 34);
  app.add_option("--config", flags->config_file,
                 "YAML config file (default: the embedded default layout, "
                 "see config/default.yaml); the last one given wins, so "
                 "ARGS in /etc/default can override the unit's")
      ->type_name("FILE")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.add_option("--root", flags->root,
                 "StemeDB data root; overrides the config's root (relative "
                 "component paths follow it)")
      ->type_name("DIR");
  app.add_flag("--once", flags->once,
               "Scan once, print the exposition text to stdout and exit");
  app.add_option("--textfile", flags->textfile,
                 "With --once: write a node_exporter textfile-collector file "
                 "(atomically) instead of stdout")
      ->type_name("FILE");
  app.add_option("--web.listen-address", flags->listen_addresses,
                 "Address to listen on; repeat for several (host:port, "
                 "[IPv6]:port, :port for every interface, IPv4 and IPv6)")
      ->type_name("HOST:PORT")
      ->capture_default_str();
  app.add_flag("--web.systemd-socket", flags->systemd_socket,
               "Use systemd socket activation listeners instead of "
               "--web.listen-address");
  app.add_option("--web.telemetry-path", flags->telemetry_path,
                 "Path under which to expose metrics")
      ->type_name("PATH")
      ->capture_default_str();
  app.add_option("--web.config.file", flags->web_config_file,
                 "exporter-toolkit web config: tls_server_config, "
                 "http_server_config, basic_auth_users")
      ->type_name("FILE");
  app.add_option("--web.read-header-timeout", flags->read_header_timeout,
                 "Time a request's header (and a TLS handshake) may take "
                 "from its first byte")
      ->type_name("DURATION")
      ->capture_default_str();
  app.add_option("--web.idle-timeout", flags->idle_timeout,
                 "Time a keep-alive connection may wait for its next request")
      ->type_name("DURATION")
      ->capture_default_str();
  app.add_option("--web.max-connections", flags->max_connections,
                 "Open connections at most; beyond it the longest-idle one is "
                 "closed")
      ->type_name("N")
      ->capture_default_str();
  app.add_option("--web.io-threads", flags->io_threads,
                 "Threads serving HTTP (each holds its connections); one "
                 "serves thousands of clients")
      ->type_name("N")
      ->capture_default_str();
  app.add_option("--web.max-request-bytes", flags->max_request_bytes,
                 "Largest request (header, or body) accepted")
      ->type_name("BYTES")
      ->capture_default_str();
  app.add_flag("--web.disable-exporter-metrics",
               flags->disable_exporter_metrics,
               "Leave out the exporter's own metrics: the process_* and the "
               "watch-mode families (docs/metrics.md, sections Watch mode and "
               "Process); also with --once");
  app.add_option("--log.level", flags->log_level,
                 "Only log messages at or above: debug, info, warn, error")
      ->type_name("LEVEL")
      ->capture_default_str();
  app.add_option("--log.format", flags->log_format,
                 "Log format: logfmt or json")
      ->type_name("FORMAT")
      ->capture_default_str();
  app.add_flag("--version", flags->version, "Print version and exit");
  DefineTestingFlags(app, &flags->testing);
  app.footer(kFooter);
  return DefineDiagnoseFlags(app, &flags->diagnose);
}

std::string IgnoredFlags(const CLI::App& app, const Flags& flags) {
  const bool diagnose = app.get_subcommand("diagnose")->parsed();
  for (const CLI::Option* option : app.get_options()) {
    if (option->count() == 0 || option->get_lnames().empty()) continue;
    const std::string flag = "--" + option->get_lnames().front();
    if (diagnose) {
      return flag +
             ": not a diagnose flag (give diagnose's flags after "
             "`diagnose`; see diagnose --help)";
    }
    const bool web = flag.rfind("--web.", 0) == 0;
    if (flags.once && web && flag != "--web.disable-exporter-metrics") {
      return flag + ": not with --once (nothing is served)";
    }
    if (flags.systemd_socket && flag == "--web.listen-address") {
      return flag +
             ": not with --web.systemd-socket (systemd's sockets "
             "are used)";
    }
  }
  return "";
}

int Fail(const std::string& message) {
  cli::PrintError("stemedb_disk_exporter", message);
  return kExitUsage;
}

int DiagnoseFail(const std::string& message) {
  // Paths, URLs and a server's reason phrase reach the terminal here.
  cli::PrintError("stemedb_disk_exporter diagnose", message);
  return kDiagnoseUnknown;
}

Status LoadConfig(const std::string& config_file, const std::string& root,
                  Config* out) {
  Config config;
  if (config_file.empty()) {
    if (Status err = LoadDefaultConfig(&config)) return err;
  } else if (Status err = LoadConfigFile(config_file, &config)) {
    return err;
  }
  if (!root.empty()) {
    if (Status err = OverrideRoot(root, &config)) return err;
  }
  *out = std::move(config);
  return std::nullopt;
}

Status DurationFlag(const std::string& name, const std::string& text,
                    std::chrono::milliseconds* out) {
  auto d = ParseDuration(text);
  if (!d || d->value.count() <= 0) {
    return Error::Message(name + ": \"" + text +
                          "\" is not a positive duration (e.g. 10s, 2m)");
  }
  *out = d->value;
  return std::nullopt;
}

Status ExporterOptionsOf(const Flags& flags, exporter::ExporterOptions* out) {
  exporter::WatchSeams seams;
  seams.overflow_after = flags.testing.overflow_after;
  seams.max_watches = flags.testing.max_watches;
  seams.per_name_min_entries = flags.testing.per_name_min_entries;
  for (const std::string& spec : flags.testing.fs_types) {
    const size_t eq = spec.rfind('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size()) {
      return Error::Message("--testing.fs-type: \"" + spec +
                            "\" is not PATH=TYPE");
    }
    seams.fs_types.emplace_back(spec.substr(0, eq), spec.substr(eq + 1));
  }
  *out = {};
  out->exporter_metrics = !flags.disable_exporter_metrics;
  out->watch = std::move(seams);
  return std::nullopt;
}

}  // namespace stemedb::cmd
