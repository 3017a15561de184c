#include "resolve.h"

#include <boost/filesystem.hpp>
#include <vector>

#include "stemedb/base/paths.h"

namespace stemedb::detail {
namespace {

namespace fs = boost::filesystem;

// Absolute and lexically normal, so equal directories compare equal as
// strings.
std::string NormalPath(const fs::path& path) {
  return NormalizePath(path.string());
}

// `path` with the symlinks of its existing part resolved (the rest kept
// lexically): where the walk really goes. `path` itself when that fails.
std::string RealPath(const std::string& path) {
  boost::system::error_code ec;
  const fs::path real = fs::weakly_canonical(path, ec);
  return ec ? path : NormalPath(real);
}

}  // namespace

// `command` with every "<path>" replaced by `path`.
std::string SubstitutePath(const std::string& command,
                           const std::string& path) {
  static constexpr std::string_view kPlaceholder = "<path>";
  std::string out;
  size_t from = 0;
  for (size_t at = command.find(kPlaceholder); at != std::string::npos;
       at = command.find(kPlaceholder, from)) {
    out.append(command, from, at - from);
    out += path;
    from = at + kPlaceholder.size();
  }
  out.append(command, from);
  return out;
}

// `path` if absolute, else `base`/`path`. REQUIRES: base is absolute.
std::string ResolvePath(const std::string& base, const std::string& path) {
  const fs::path written(path);
  return NormalPath(written.is_absolute() ? written : fs::path(base) / written);
}

// `dir` made absolute against the current directory. May throw
// fs::filesystem_error when the current directory is gone.
std::string AbsoluteDir(const std::string& dir) {
  const fs::path path = dir.empty() ? fs::path(".") : fs::path(dir);
  // Boost's absolute() asks for the current directory even when it needs
  // none, so an absolute path must not depend on it.
  return NormalPath(path.is_absolute() ? path : fs::absolute(path));
}

// Fills resolved_path of every component and rejects two components whose
// trees overlap: the same directory, one inside the other, lexically or
// through symlinks. Their bytes would be counted twice, and the sum of the
// components would exceed the disk.
Status ResolveComponents(const YamlReader& reader, Config* config) {
  std::vector<std::string> real(config->components.size());
  for (size_t i = 0; i < config->components.size(); ++i) {
    Component& component = config->components[i];
    component.resolved_path = ResolvePath(config->root, component.path);
    real[i] = RealPath(component.resolved_path);
    for (size_t j = 0; j < i; ++j) {
      const Component& earlier = config->components[j];
      const bool same_lexically =
          earlier.resolved_path == component.resolved_path;
      std::string what;
      if (same_lexically || real[i] == real[j]) {
        what = ", the directory of component \"" + earlier.name + "\" too";
      } else if (IsAtOrBelow(real[i], real[j])) {
        what = ", inside component \"" + earlier.name + "\" (" + real[j] + ")";
      } else if (IsAtOrBelow(real[j], real[i])) {
        what = ", which holds component \"" + earlier.name + "\" (" + real[j] +
               ")";
      } else {
        continue;
      }
      const std::string via =
          real[i] == component.resolved_path || same_lexically
              ? component.resolved_path
              : component.resolved_path + " = " + real[i] + " (symlinks)";
      const std::string path = "components." + component.name + ".path";
      return reader.Error(
          {path, reader.MarkOf(path).value_or(YAML::Mark::null_mark())},
          "\"" + component.path + "\" resolves to " + via + what +
              "; each component must be its own directory, apart from the "
              "others, so no byte is counted twice");
    }
  }
  return std::nullopt;
}

// Fills resolved_path and resolved_command of every cleanup rule.
// REQUIRES: components resolved; a rule's component exists.
void ResolveCleanupRules(Config* config) {
  for (CleanupRule& rule : config->cleanup.rules) {
    const Component* component = rule.component.empty()
                                     ? nullptr
                                     : config->FindComponent(rule.component);
    rule.resolved_path = component != nullptr
                             ? component->resolved_path
                             : ResolvePath(config->root, rule.path);
    rule.resolved_command = SubstitutePath(rule.command, rule.resolved_path);
  }
}

}  // namespace stemedb::detail
