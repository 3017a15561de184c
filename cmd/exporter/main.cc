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
#include "stemedb/base/atomic_file.h"
#include "stemedb/base/log.h"
#include "stemedb/base/utf8.h"
#include "stemedb/cli/suggest.h"
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
  // temp file: it reads only *.prom).
  if (Status err = WriteFileAtomically(flags.textfile, *text)) {
    // An I/O failure (a full disk, say), not a usage error: exit 1.
    std::cerr << "stemedb_disk_exporter: error: --textfile: " << err->ToString()
              << "\n";
    return 1;
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
std::optional<int> Parse(CLI::App& app, CLI::App* diagnose, int argc,
                         char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ExtrasError&) {
    if (diagnose->parsed()) {
      return DiagnoseFail(cli::UnknownArgumentsMessage(*diagnose));
    }
    return Fail(cli::UnknownArgumentsMessage(app));
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return diagnose->parsed() ? kDiagnoseUnknown : kExitUsage;
  }
  return std::nullopt;
}

int Diagnose(const DiagnoseFlags& flags) {
  try {
    return RunDiagnose(flags);
  } catch (const std::exception& e) {
    std::cerr << "stemedb_disk_exporter diagnose: fatal: "
              << EscapeForTerminal(e.what()) << "\n";
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
  if (std::optional<int> status = Parse(app, diagnose, argc, argv)) {
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
    std::cerr << "stemedb_disk_exporter: fatal: "
              << stemedb::EscapeForTerminal(e.what()) << "\n";
    return 1;
  }
}
