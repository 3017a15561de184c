// stemedb_disk_exporter: command line, signals and wiring. Exceptions and
// error values from the units end here as a message and an exit code.
#include <CLI/CLI.hpp>
#include <boost/filesystem.hpp>
#include <cstdio>
#include <exception>
#include <iostream>
#include <string>
#include <utility>

#include "diagnose.h"
#include "flags.h"
#include "serve.h"
#include "stemedb/base/log.h"
#include "stemedb/base/output_file.h"
#include "stemedb/base/utf8.h"
#include "stemedb/cli/command_line.h"
#include "stemedb/config/config.h"
#include "stemedb/engine/exporter.h"

namespace stemedb::cmd {
namespace {

// --log.level and --log.format, applied.
Status ConfigureLogging(const Flags& flags) {
  auto level = log::ParseLevel(flags.log_level);
  if (!level) {
    return Error::Message("--log.level: \"" + flags.log_level +
                          "\" is not one of debug, info, warn, error");
  }
  auto format = log::ParseFormat(flags.log_format);
  if (!format) {
    return Error::Message("--log.format: \"" + flags.log_format +
                          "\" is not one of logfmt, json");
  }
  log::Configure(*level, *format);
  return std::nullopt;
}

// The config, and the engine options, the flags describe.
Status Prepare(const Flags& flags, Config* config,
               exporter::ExporterOptions* options) {
  if (!flags.root.empty()) {
    boost::system::error_code ec;
    if (!boost::filesystem::is_directory(flags.root, ec)) {
      return Error::Message("--root: " + flags.root + ": not a directory");
    }
  }
  if (!flags.textfile.empty() && !flags.once) {
    return Error::Message("--textfile: only with --once");
  }
  if (Status err = LoadConfig(flags.config_file, flags.root, config)) {
    return Error::Message(err->ToString());
  }
  return ExporterOptionsOf(flags, options);
}

// --once: one walk, the exposition text to stdout or --textfile.
int RunOnce(const Flags& flags, Config config,
            exporter::ExporterOptions options) {
  exporter::Exporter exporter(std::move(config), nullptr, std::move(options));
  exporter.RunOnce();
  auto text = exporter.Exposition();
  if (flags.textfile.empty()) {
    std::fwrite(text->data(), 1, text->size(), stdout);
    return std::fflush(stdout) == 0 ? 0 : 1;
  }
  // node_exporter's textfile collector never sees half a file (nor the
  // temp file: it reads only *.prom); a symlink, FIFO or "-" is written as
  // the user meant (stemedb/base/output_file.h).
  if (Status err = WriteOutput(flags.textfile, *text)) {
    // An I/O failure (a full disk, say), not a usage error.
    Fail("--textfile: " + err->ToString());
    return kExitFailure;
  }
  return 0;
}

int Run(const Flags& flags) {
  if (Status err = ConfigureLogging(flags)) return Fail(err->message);
  Config config;
  exporter::ExporterOptions options;
  if (Status err = Prepare(flags, &config, &options)) {
    return Fail(err->message);
  }
  if (flags.once) return RunOnce(flags, std::move(config), std::move(options));
  return Serve(flags, std::move(config), std::move(options));
}

// Parses the command line; returns an exit status when parsing ends the
// program (help, or a bad flag).
std::optional<int> Parse(CLI::App& app, const Flags& flags, int argc,
                         char** argv) {
  auto fail = [&app](const CLI::App& command, const std::string& message) {
    return &command == &app ? Fail(message) : DiagnoseFail(message);
  };
  if (std::optional<int> status =
          cli::ParseCommandLine(app, argc, argv, fail)) {
    return status;
  }
  const std::string ignored = IgnoredFlags(app, flags);
  if (!ignored.empty()) return fail(cli::ParsedCommand(app), ignored);
  return std::nullopt;
}

int Diagnose(const DiagnoseFlags& flags) {
  try {
    return RunDiagnose(flags);
  } catch (const std::exception& e) {
    cli::PrintError("stemedb_disk_exporter diagnose", e.what());
    return kDiagnoseUnknown;
  }
}

}  // namespace
}  // namespace stemedb::cmd

int main(int argc, char** argv) {
  using namespace stemedb::cmd;  // NOLINT(build/namespaces): main only
  Flags flags;
  CLI::App app{
      "Prometheus exporter for the disk usage of a StemeDB data layout: "
      "per-component bytes, files, WAL segments, and filesystem capacity.",
      "stemedb_disk_exporter"};
  CLI::App* diagnose = DefineFlags(app, &flags);
  if (std::optional<int> status = Parse(app, flags, argc, argv)) {
    return *status;
  }
  if (diagnose->parsed()) return Diagnose(flags.diagnose);
  if (flags.version) {
    std::cout << "stemedb_disk_exporter, version " << STEMEDB_VERSION
              << " (revision: " << STEMEDB_REVISION << ")\n";
    return 0;
  }
  try {
    return Run(flags);
  } catch (const std::exception& e) {
    // Last line of defence: the units return errors as values.
    stemedb::cli::PrintError("stemedb_disk_exporter", e.what());
    return kExitFailure;
  }
}
