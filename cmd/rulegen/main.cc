// stemedb_rulegen: one config in, every artifact that carries a threshold
// out (alert rules and their unit tests, PrometheusRule, Alertmanager routes,
// Grafana dashboard). Exit codes: 0 done (or --check found no difference),
// 1 --check found differences, 2 invalid config or usage, 3 I/O error.

#include <CLI/CLI.hpp>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "stemedb/cli/suggest.h"
#include "stemedb/config/config.h"
#include "stemedb/rulegen/artifacts.h"
#include "stemedb/rulegen/writer.h"

namespace {

constexpr int kExitDiffers = 1;
constexpr int kExitConfig = 2;
constexpr int kExitIo = 3;

// The end of --help, and so of the man page help2man makes from it.
constexpr const char* kFooter = R"(Exit status:
  0  done (with --check: the files are up to date)
  1  --check: generated files differ (a diff is printed)
  2  invalid config or usage (the message names file:line:column or the flag)
  3  I/O error writing a file

Examples:
  stemedb_rulegen --out DIR
  stemedb_rulegen --config /etc/stemedb/disk-exporter.yaml --out DIR
  stemedb_rulegen --config my.yaml --rules /etc/prometheus/stemedb-disk.rules.yml
  stemedb_rulegen --check --out .)";

struct Flags {
  std::string config_path;
  std::string root;
  std::string out_dir;
  stemedb::rulegen::OutputPaths override;  // the per-artifact paths given
  bool check = false;
  bool version = false;
};

void AddFlags(CLI::App& app, Flags* f) {
  app.add_option("--config", f->config_path,
                 "Config file (default: the embedded default config)")
      ->type_name("FILE");
  app.add_option("--root", f->root,
                 "Data root; accepted for symmetry with the exporter, the "
                 "generated files do not depend on it")
      ->type_name("DIR");
  app.add_option("--out", f->out_dir,
                 "Write every artifact under DIR in the repository layout "
                 "(rules/, dashboards/, deploy/)")
      ->type_name("DIR");
  app.add_option("--rules", f->override.rules, "Rule file path")
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
    std::cerr << "stemedb_rulegen: " << err->ToString() << "\n";
    return kExitIo;
  }
  if (differing != 0) {
    std::cerr << "stemedb_rulegen: " << differing
              << " generated file(s) differ; run stemedb_rulegen without "
                 "--check to update them\n";
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
    std::cerr << err->ToString() << "\n";
    return kExitConfig;
  }
  if (flags.config_path.empty() && !flags.root.empty()) {
    if (auto err = stemedb::OverrideRoot(flags.root, &config)) {
      std::cerr << err->ToString() << "\n";
      return kExitConfig;
    }
  }
  if (auto err = stemedb::rulegen::RenderArtifacts(config, paths, artifacts)) {
    std::cerr << err->ToString() << "\n";
    return kExitConfig;
  }
  return std::nullopt;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "Generates StemeDB disk alert rules, their promtool tests, a "
      "PrometheusRule, an Alertmanager configuration and a Grafana dashboard "
      "from the exporter's config.",
      "stemedb_rulegen"};
  Flags flags;
  AddFlags(app, &flags);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ExtrasError&) {
    std::cerr << "stemedb_rulegen: error: "
              << stemedb::cli::UnknownArgumentsMessage(app) << "\n";
    return kExitConfig;
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : kExitConfig;
  }
  if (flags.version) {
    std::cout << "stemedb_rulegen, version " << STEMEDB_VERSION
              << " (revision: " << STEMEDB_REVISION << ")\n";
    return 0;
  }
  const stemedb::rulegen::OutputPaths paths = PathsFrom(flags);
  if (NothingToWrite(paths)) {
    std::cerr << "stemedb_rulegen: nothing to write: give --out DIR or an "
                 "artifact path (see --help)\n";
    return kExitConfig;
  }
  std::vector<stemedb::rulegen::Artifact> artifacts;
  if (std::optional<int> rc = Render(flags, paths, &artifacts)) return *rc;
  if (flags.check) return Check(artifacts);
  if (auto err = stemedb::rulegen::WriteArtifacts(artifacts)) {
    std::cerr << "stemedb_rulegen: " << err->ToString() << "\n";
    return kExitIo;
  }
  return 0;
}
