// stemedb_disk_exporter's flags: their definitions (CLI11), their values,
// and the checks and conversions of the values that need no running engine.
#pragma once

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "stemedb/base/error.h"
#include "stemedb/cli/command_line.h"
#include "stemedb/config/config.h"
#include "stemedb/engine/options.h"

namespace stemedb::cmd {

// The exit statuses: stemedb/cli/command_line.h's table, and diagnose's
// monitoring-plugin one (a bad flag there is UNKNOWN).
inline constexpr int kExitFailure = cli::kExitFailure;
inline constexpr int kExitUsage = cli::kExitUsage;
inline constexpr int kDiagnoseUnknown = 3;

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
  std::string prometheus;  // time until full from this Prometheus
  std::string prometheus_instance;  // default: see diagnose_sections.cc
  std::string prometheus_timeout = "10s";
  std::string format = "text";
};

// The hidden --testing.* flags: defined in stemedb_disk_exporter_testing
// only (STEMEDB_EXPORTER_TESTING), for the end-to-end tests.
struct TestingFlags {
  int64_t overflow_after = -1;
  int64_t max_watches = -1;
  std::optional<int64_t> per_name_min_entries;
  std::vector<std::string> fs_types;  // PATH=TYPE
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
  bool disable_exporter_metrics = false;
  std::string log_level = "info";
  std::string log_format = "logfmt";
  bool version = false;
  DiagnoseFlags diagnose;
  TestingFlags testing;
};

// Defines the exporter's flags on `app` (and its help footer), writing to
// *flags; returns the `diagnose` subcommand.
CLI::App* DefineFlags(CLI::App& app, Flags* flags);

// A flag that changes nothing in the mode the command line asks for
// (--web.* with --once, --web.listen-address with --web.systemd-socket, a
// top-level flag before `diagnose`): the message naming it, else empty.
std::string IgnoredFlags(const CLI::App& app, const Flags& flags);

// Prints "stemedb_disk_exporter: error: MESSAGE" and returns kExitUsage.
int Fail(const std::string& message);
// Prints "stemedb_disk_exporter diagnose: error: MESSAGE" and returns
// kDiagnoseUnknown.
int DiagnoseFail(const std::string& message);

// Loads the config the flags describe: the file (or the embedded default),
// then --root over it.
Status LoadConfig(const std::string& config_file, const std::string& root,
                  Config* out);

// A positive duration flag ("10s", "2m"); the error message names the flag.
Status DurationFlag(const std::string& name, const std::string& text,
                    std::chrono::milliseconds* out);

// The engine options the flags ask for: production ones, but for the hidden
// --testing.* flags of the testing binary.
Status ExporterOptionsOf(const Flags& flags, exporter::ExporterOptions* out);

}  // namespace stemedb::cmd
