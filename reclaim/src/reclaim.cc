#include "stemedb/reclaim/reclaim.h"

#include <fnmatch.h>

#include <algorithm>
#include <cmath>

namespace stemedb::reclaim {
namespace {

double Seconds(const struct timespec& ts) {
  return static_cast<double>(ts.tv_sec) +
         static_cast<double>(ts.tv_nsec) * 1e-9;
}

// True when directory `inner` is `outer` or below it. Both normal paths.
bool IsWithin(std::string_view inner, std::string_view outer) {
  if (inner == outer || outer == "/") return true;
  return inner.size() > outer.size() && inner.starts_with(outer) &&
         inner[outer.size()] == '/';
}

std::string Join(std::string_view dir, std::string_view name) {
  std::string out(dir);
  if (out.empty() || out.back() != '/') out += '/';
  out += name;
  return out;
}

bool Matches(const CleanupRule& rule, std::string_view name,
             const struct stat& st) {
  switch (rule.type) {
    case CleanupEntryType::kFile:
      if (!S_ISREG(st.st_mode)) return false;
      break;
    case CleanupEntryType::kEmptyFile:
      if (!S_ISREG(st.st_mode) || st.st_size != 0) return false;
      break;
    case CleanupEntryType::kDirectory:
      if (!S_ISDIR(st.st_mode)) return false;
      break;
  }
  const std::string text(name);
  return fnmatch(rule.match.c_str(), text.c_str(), 0) == 0;
}

}  // namespace

Rules::Rules(const Config& config) : rules_(config.cleanup.rules) {
  for (const CleanupRule& rule : rules_) {
    older_than_.push_back(rule.older_than.seconds());
  }
  for (const Component& component : config.components) {
    component_roots_.push_back(component.resolved_path);
  }
}

Context Rules::RootContext(const std::string& path) const {
  Context context;
  for (size_t i = 0; i < rules_.size(); ++i) {
    const CleanupRule& rule = rules_[i];
    if (!IsWithin(path, rule.resolved_path)) continue;
    context.applies |= uint64_t{1} << i;
    if (rule.type != CleanupEntryType::kDirectory ||
        path == rule.resolved_path) {
      continue;
    }
    // The outermost matching directory between the rule's and this one.
    std::string at = rule.resolved_path;
    std::string_view rest = std::string_view(path).substr(
        rule.resolved_path == "/" ? 1 : rule.resolved_path.size() + 1);
    while (!rest.empty()) {
      const size_t slash = rest.find('/');
      const std::string_view name = rest.substr(0, slash);
      at = Join(at, name);
      struct stat st;
      if (lstat(at.c_str(), &st) == 0 && Matches(rule, name, st)) {
        context.inside.emplace_back(static_cast<uint8_t>(i),
                                    Seconds(st.st_mtim));
        break;
      }
      if (slash == std::string_view::npos) break;
      rest.remove_prefix(slash + 1);
    }
  }
  return context;
}

Context Rules::ChildContext(const Context& parent, std::string_view parent_path,
                            std::string_view name,
                            const struct stat& st) const {
  Context child;
  child.applies = parent.applies;
  child.inside = parent.inside;
  const bool rule_below =
      std::any_of(rules_.begin(), rules_.end(), [&](const CleanupRule& rule) {
        return rule.resolved_path.size() > parent_path.size() &&
               IsWithin(rule.resolved_path, parent_path);
      });
  const std::string path = rule_below ? Join(parent_path, name) : "";
  for (size_t i = 0; i < rules_.size(); ++i) {
    const uint64_t bit = uint64_t{1} << i;
    if (!(parent.applies & bit)) {
      if (rule_below && rules_[i].resolved_path == path) child.applies |= bit;
      continue;
    }
    if (rules_[i].type != CleanupEntryType::kDirectory) continue;
    const bool already =
        std::any_of(child.inside.begin(), child.inside.end(),
                    [i](const auto& in) { return in.first == i; });
    if (!already && Matches(rules_[i], name, st)) {
      child.inside.emplace_back(static_cast<uint8_t>(i), Seconds(st.st_mtim));
    }
  }
  return child;
}

std::vector<std::string> Rules::ExtraRoots() const {
  std::vector<std::string> roots;
  for (const CleanupRule& rule : rules_) {
    const std::string& path = rule.resolved_path;
    const bool in_component =
        std::any_of(component_roots_.begin(), component_roots_.end(),
                    [&](const std::string& c) { return IsWithin(path, c); });
    if (!in_component) roots.push_back(path);
  }
  // Outermost first; a root inside another is walked with it.
  std::sort(roots.begin(), roots.end(),
            [](const std::string& a, const std::string& b) {
              return a.size() != b.size() ? a.size() < b.size() : a < b;
            });
  std::vector<std::string> out;
  for (const std::string& root : roots) {
    const bool covered =
        std::any_of(out.begin(), out.end(),
                    [&](const std::string& o) { return IsWithin(root, o); });
    if (!covered) out.push_back(root);
  }
  return out;
}

bool Rules::IsComponentRoot(std::string_view path) const {
  return std::find(component_roots_.begin(), component_roots_.end(), path) !=
         component_roots_.end();
}

std::vector<Reading> Rules::Evaluate(const std::vector<const Tally*>& tallies,
                                     double now) const {
  std::vector<Reading> out(rules_.size());
  std::vector<double> oldest(rules_.size(),
                             std::numeric_limits<double>::infinity());
  for (const Tally* tally : tallies) {
    for (const Tally::PerRule& r : tally->per_rule_) {
      Reading& reading = out[r.rule];
      reading.bytes += r.old_bytes;
      reading.entries += r.old_entries;
      oldest[r.rule] = std::min(oldest[r.rule], r.old_oldest);
      const double before = now - older_than_[r.rule];
      for (const Tally::Young& y : r.young) {
        if (!(y.mtime < before)) continue;
        reading.bytes += y.bytes;
        reading.entries += y.entries;
        oldest[r.rule] = std::min(oldest[r.rule], y.mtime);
      }
    }
  }
  for (size_t i = 0; i < out.size(); ++i) {
    if (std::isfinite(oldest[i])) out[i].oldest_mtime = oldest[i];
  }
  return out;
}

Tally::PerRule& Tally::For(uint8_t rule) {
  for (PerRule& r : per_rule_) {
    if (r.rule == rule) return r;
  }
  PerRule& r = per_rule_.emplace_back();
  r.rule = rule;
  return r;
}

// Old for good when older than the rule's age at stat time; "0s" (any age)
// is always old, a file from the future included.
void Tally::Count(uint8_t rule, double mtime, uint64_t bytes,
                  uint32_t entries) {
  PerRule& r = For(rule);
  const double older_than = rules_->older_than_[rule];
  if (older_than <= 0 || mtime < now_ - older_than) {
    r.old_bytes += bytes;
    r.old_entries += entries;
    r.old_oldest = std::min(r.old_oldest, mtime);
  } else {
    r.young.push_back({mtime, bytes, entries});
  }
}

void Tally::Add(const Context& context, std::string_view name,
                const struct stat& st, bool counted) {
  const uint64_t bytes =
      counted ? static_cast<uint64_t>(st.st_blocks) * 512 : 0;
  // Below a matched directory: its bytes belong to that directory, aged by
  // its mtime; it is not listed again.
  uint64_t inside = 0;
  for (const auto& [rule, mtime] : context.inside) {
    inside |= uint64_t{1} << rule;
    if (bytes > 0) Count(rule, mtime, bytes, 0);
  }
  uint64_t candidates = context.applies & ~inside;
  const std::vector<CleanupRule>& rules = rules_->rules_;
  for (size_t i = 0; candidates != 0 && i < rules.size(); ++i) {
    const uint64_t bit = uint64_t{1} << i;
    if (!(candidates & bit)) continue;
    candidates &= ~bit;
    if (Matches(rules[i], name, st)) {
      Count(static_cast<uint8_t>(i), Seconds(st.st_mtim), bytes, 1);
    }
  }
}

void Tally::Merge(const Tally& other) {
  for (const PerRule& o : other.per_rule_) {
    PerRule& r = For(o.rule);
    r.old_bytes += o.old_bytes;
    r.old_entries += o.old_entries;
    r.old_oldest = std::min(r.old_oldest, o.old_oldest);
    r.young.insert(r.young.end(), o.young.begin(), o.young.end());
  }
}

size_t Tally::MemoryBytes() const {
  size_t bytes = per_rule_.capacity() * sizeof(PerRule);
  for (const PerRule& r : per_rule_)
    bytes += r.young.capacity() * sizeof(Young);
  return bytes;
}

}  // namespace stemedb::reclaim
