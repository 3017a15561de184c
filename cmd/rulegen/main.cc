// stemedb_rulegen: one config in, every artifact that carries a threshold
// out (alert rules and their unit tests, PrometheusRule, Alertmanager routes,
// Grafana dashboard). Exit statuses: stemedb/cli/command_line.h's table
// (0 done, 1 a runtime failure or --check found differences, 2 invalid
// config or usage).

#include <CLI/CLI.hpp>
#include <iostream>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "stemedb/base/output_file.h"
#include "stemedb/cli/command_line.h"
#include "stemedb/config/config.h"
#include "stemedb/rulegen/artifacts.h"
#include "stemedb/rulegen/writer.h"

namespace {

namespace cli = stemedb::cli;

constexpr const char* kProgram = "stemedb_rulegen";
constexpr int kExitDiffers = cli::kExitFailure;
constexpr int kExitConfig = cli::kExitUsage;
constexpr int kExitIo = cli::kExitFailure;

// The end of --help, and so of the man page help2man makes from it.
constexpr const char* kFooter = R"(Output paths:
  -                  standard output
  a symlink          its target is replaced (the link stays)
  /dev/..., a FIFO   written in place, never replaced
  a regular file     replaced atomically, its mode (and, as root, owner)
                     kept

Exit status:
  0  done (with --check: the files are up to date)
  1  an I/O error writing a file, or --check: generated files differ (a
     diff is printed)
  2  invalid config or usage (the message names file:line:column or the
     flag); nothing was written

Examples:
  stemedb_rulegen --out DIR
  stemedb_rulegen --config /etc/stemedb/disk-exporter.yaml --out DIR
  stemedb_rulegen --config my.yaml --rules /etc/prometheus/stemedb.rules.yml
  stemedb_rulegen --check --out .)";

struct Flags {
  std::string config_path;
  std::string out_dir;
  stemedb::rulegen::OutputPaths override;  // the per-artifact paths given
  bool check = false;
  bool version = false;
};

void AddFlags(CLI::App& app, Flags* f) {
  cli::UseHelpLayout(app, 28);
  app.add_option("--config", f->config_path,
                 "Config file (default: the embedded default config)")
      ->type_name("FILE");
  app.add_option("--out", f->out_dir,
                 "Write every artifact under DIR in the repository layout "
                 "(rules/, dashboards/, deploy/)")
      ->type_name("DIR");
  app.add_option("--rules", f->override.rules, "Rule file path (- for stdout)")
      ->type_name("FILE");
  app.add_option("--rule-tests", f->override.rule_tests,
                 "promtool unit test file path")
      ->type_name("FILE");
  app.add_option("--dashboard", f->override.dashboard, "Grafana JSON path")
      ->type_name("FILE");
  app.add_option("--prometheus-rule", f->override.prometheus_rule,
                 "Kubernetes PrometheusRule path")
      ->type_name("FILE");
  app.add_option("--alertmanager", f->override.alertmanager,
                 "Alertmanager configuration path")
      ->type_name("FILE");
  app.add_flag("--check", f->check,
               "Write nothing; print a diff and exit 1 when the files differ "
               "from what would be written");
  app.add_flag("--version", f->version, "Print version and exit");
  app.footer(kFooter);
}

// --out's layout, with each artifact path given overriding its entry.
stemedb::rulegen::OutputPaths PathsFrom(const Flags& flags) {
  stemedb::rulegen::OutputPaths paths;
  if (!flags.out_dir.empty()) {
    paths = stemedb::rulegen::LayoutUnder(flags.out_dir);
  }
  auto take = [](std::string& into, const std::string& from) {
    if (!from.empty()) into = from;
  };
  const stemedb::rulegen::OutputPaths& o = flags.override;
  take(paths.rules, o.rules);
  take(paths.rule_tests, o.rule_tests);
  take(paths.dashboard, o.dashboard);
  take(paths.prometheus_rule, o.prometheus_rule);
  take(paths.alertmanager, o.alertmanager);
  return paths;
}

bool NothingToWrite(const stemedb::rulegen::OutputPaths& paths) {
  return paths.rules.empty() && paths.rule_tests.empty() &&
         paths.dashboard.empty() && paths.prometheus_rule.empty() &&
         paths.alertmanager.empty();
}

// --check: prints a diff; the exit code says whether the files differ.
int Check(const std::vector<stemedb::rulegen::Artifact>& artifacts) {
  int differing = 0;
  if (auto err =
          stemedb::rulegen::CheckArtifacts(artifacts, std::cout, &differing)) {
    cli::PrintError(kProgram, err->ToString());
    return kExitIo;
  }
  if (differing != 0) {
    cli::PrintError(kProgram, std::to_string(differing) +
                                  " generated file(s) differ; run "
                                  "stemedb_rulegen without --check to update "
                                  "them");
    return kExitDiffers;
  }
  return 0;
}

// Loads the config and renders every artifact; an exit code on failure.
std::optional<int> Render(const Flags& flags,
                          const stemedb::rulegen::OutputPaths& paths,
                          std::vector<stemedb::rulegen::Artifact>* artifacts) {
  stemedb::Config config;
  if (auto err = flags.config_path.empty()
                     ? stemedb::LoadDefaultConfig(&config)
                     : stemedb::LoadConfigFile(flags.config_path, &config)) {
    cli::PrintError(kProgram, err->ToString());
    return kExitConfig;
  }
  if (auto err = stemedb::rulegen::RenderArtifacts(config, paths, artifacts)) {
    cli::PrintError(kProgram, err->ToString());
    return kExitConfig;
  }
  return std::nullopt;
}

// The flag that named `path`: an artifact's own flag, else --out.
std::string FlagOf(const Flags& flags, const std::string& path) {
  const stemedb::rulegen::OutputPaths& o = flags.override;
  const std::pair<const std::string*, const char*> named[] = {
      {&o.rules, "--rules"},
      {&o.rule_tests, "--rule-tests"},
      {&o.dashboard, "--dashboard"},
      {&o.prometheus_rule, "--prometheus-rule"},
      {&o.alertmanager, "--alertmanager"}};
  for (const auto& [given, flag] : named) {
    if (*given == path) return flag;
  }
  return "--out";
}

// --check compares files: standard output, a device or a FIFO has none.
std::optional<int> CheckableOrFail(
    const Flags& flags,
    const std::vector<stemedb::rulegen::Artifact>& artifacts) {
  for (const auto& artifact : artifacts) {
    stemedb::OutputTarget target;
    if (auto err = stemedb::ResolveOutput(artifact.path, &target)) {
      cli::PrintError(kProgram,
                      FlagOf(flags, artifact.path) + ": " + err->ToString());
      return kExitConfig;
    }
    if (target.kind != stemedb::OutputTarget::Kind::kReplace) {
      cli::PrintError(kProgram, FlagOf(flags, artifact.path) + ": " +
                                    artifact.path +
                                    ": not a file; --check compares files");
      return kExitConfig;
    }
  }
  return std::nullopt;
}

int Run(const Flags& flags) {
  if (flags.version) {
    std::cout << "stemedb_rulegen, version " << STEMEDB_VERSION
              << " (revision: " << STEMEDB_REVISION << ")\n";
    return cli::kExitOk;
  }
  const stemedb::rulegen::OutputPaths paths = PathsFrom(flags);
  if (NothingToWrite(paths)) {
    cli::PrintError(kProgram,
                    "nothing to write: give --out DIR or an artifact path "
                    "(see --help)");
    return kExitConfig;
  }
  std::vector<stemedb::rulegen::Artifact> artifacts;
  if (std::optional<int> rc = Render(flags, paths, &artifacts)) return *rc;
  if (flags.check) {
    if (std::optional<int> rc = CheckableOrFail(flags, artifacts)) return *rc;
    return Check(artifacts);
  }
  if (auto err = stemedb::rulegen::WriteArtifacts(artifacts)) {
    const std::string flag = err->file.empty() ? "" : FlagOf(flags, err->file);
    cli::PrintError(kProgram,
                    (flag.empty() ? "" : flag + ": ") + err->ToString());
    return kExitIo;
  }
  return cli::kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "Generates StemeDB disk alert rules, their promtool tests, a "
      "PrometheusRule, an Alertmanager configuration and a Grafana dashboard "
      "from the exporter's config.",
      kProgram};
  Flags flags;
  AddFlags(app, &flags);
  auto fail = [](const CLI::App&, const std::string& message) {
    cli::PrintError(kProgram, message);
    return kExitConfig;
  };
  if (std::optional<int> status =
          cli::ParseCommandLine(app, argc, argv, fail)) {
    return *status;
  }
  return Run(flags);
}
