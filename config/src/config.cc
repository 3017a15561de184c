// The config's entry points: the embedded default parsed once, a file or
// text parsed onto it, and the edges where yaml-cpp and Boost exceptions
// become ConfigError values. The schema is schema.cc; the rules that relate
// keys relations.cc; path resolution resolve.cc.

#include "stemedb/config/config.h"

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/yaml.h>

#include <boost/filesystem.hpp>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <utility>

#include "resolve.h"
#include "schema.h"
#include "stemedb/base/user_file.h"
#include "stemedb/config/yaml_reader.h"

namespace stemedb {
namespace {

namespace fs = boost::filesystem;
using detail::YamlReader;

constexpr char kEmbeddedSource[] = "<embedded default>";

// Parses `yaml` onto `*config` (which holds the defaults). Every exception
// the libraries throw stops here.
Status ParseOnto(std::string_view yaml, const std::string& source_name,
                 const std::string& base_dir, bool read_host_files,
                 Config* config) {
  YamlReader reporter(source_name);
  try {
    const std::string text(yaml);
    YAML::Mark second;
    if (detail::HasSecondDocument(text, &second)) {
      return reporter.Error({"", second},
                            "a second YAML document; a config file holds one");
    }
    const YAML::Node document = YAML::Load(text);
    if (!document.IsDefined() || document.IsNull()) {
      return reporter.Error({"", YAML::Mark::null_mark()},
                            "no configuration in the file (expected a "
                            "mapping of sections: root, components, scan, "
                            "thresholds, alerting, dashboard)");
    }
    return detail::ParseDocument(document, source_name,
                                 detail::AbsoluteDir(base_dir), read_host_files,
                                 config);
  } catch (const YAML::DeepRecursion& e) {
    // yaml-cpp gives up at a fixed depth and calls it a "bad file".
    return reporter.Error({"", e.mark},
                          "invalid YAML: nested " + std::to_string(e.depth()) +
                              " levels deep, past yaml-cpp's limit (a config "
                              "is nested 4 levels at most)");
  } catch (const YAML::Exception& e) {
    return reporter.Error({"", e.mark}, "invalid YAML: " + e.msg);
  } catch (const std::exception& e) {
    return reporter.Error({"", YAML::Mark::null_mark()}, e.what());
  }
}

// The embedded default parsed once; immutable afterwards, so shared safely.
struct Embedded {
  Config config;
  Status error;
};

const Embedded& EmbeddedDefault() {
  static const Embedded embedded = [] {
    Embedded result;
    result.config.source = kEmbeddedSource;
    result.error = ParseOnto(DefaultConfigYaml(), kEmbeddedSource, "/", false,
                             &result.config);
    return result;
  }();
  return embedded;
}

}  // namespace

std::string_view CleanupEntryTypeName(CleanupEntryType type) {
  switch (type) {
    case CleanupEntryType::kFile:
      return "file";
    case CleanupEntryType::kDirectory:
      return "directory";
    case CleanupEntryType::kEmptyFile:
      return "empty_file";
  }
  return "file";
}

const CleanupRule* Config::FindCleanupRule(std::string_view name) const {
  for (const CleanupRule& rule : cleanup.rules) {
    if (rule.name == name) return &rule;
  }
  return nullptr;
}

const Component* Config::FindComponent(std::string_view name) const {
  for (const Component& component : components) {
    if (component.name == name) return &component;
  }
  return nullptr;
}

Status ParseConfig(std::string_view yaml, const std::string& source_name,
                   const std::string& base_dir, Config* out) {
  const Embedded& defaults = EmbeddedDefault();
  if (defaults.error) return defaults.error;
  Config config = defaults.config;
  config.source = source_name;
  if (Status status = ParseOnto(yaml, source_name, base_dir, true, &config)) {
    return status;
  }
  *out = std::move(config);
  return std::nullopt;
}

Status ReadConfigText(const std::string& path, std::string* text) {
  return ReadUserFile(path, kConfigFileKind, text);
}

Status LoadConfigFile(const std::string& path, Config* out) {
  std::string base_dir;
  try {
    base_dir = fs::absolute(path).parent_path().string();
  } catch (const std::exception& e) {
    return ConfigError{
        path, 0, 0, "",
        std::string("cannot resolve config file path: ") + e.what()};
  }
  std::string text;
  if (auto error = ReadConfigText(path, &text)) return error;
  return ParseConfig(text, path, base_dir, out);
}

Status LoadDefaultConfig(Config* out) {
  // An empty mapping onto the default: only the host files are read.
  return ParseConfig("{}", kEmbeddedSource, "/", out);
}

Status OverrideRoot(const std::string& root, Config* config) {
  Config changed = *config;
  try {
    changed.root = detail::AbsoluteDir(root);
  } catch (const std::exception& e) {
    return ConfigError{config->source, 0, 0, "root",
                       std::string("cannot resolve: ") + e.what()};
  }
  if (Status status =
          detail::ResolveComponents(YamlReader(config->source), &changed)) {
    return status;
  }
  detail::ResolveCleanupRules(&changed);
  *config = std::move(changed);
  return std::nullopt;
}

Config DefaultConfig(const std::string& root) {
  const Embedded& defaults = EmbeddedDefault();
  // The default is compiled in and tested; failing here is a build defect.
  if (defaults.error) {
    std::fprintf(stderr, "stemedb: broken embedded default config: %s\n",
                 defaults.error->ToString().c_str());
    std::abort();
  }
  Config config = defaults.config;
  if (root.empty()) return config;
  if (Status status = OverrideRoot(root, &config)) {
    std::fprintf(stderr, "stemedb: %s\n", status->ToString().c_str());
    std::abort();
  }
  return config;
}

}  // namespace stemedb
