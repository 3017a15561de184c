#include "stemedb/cli/suggest.h"

#include <algorithm>
#include <numeric>

namespace stemedb::cli {

size_t EditDistance(const std::string& a, const std::string& b) {
  // One row of the dynamic-programming table at a time.
  std::vector<size_t> row(b.size() + 1);
  std::iota(row.begin(), row.end(), size_t{0});
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1,
                         diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::optional<std::string> NearestFlag(const std::string& typed,
                                       const std::vector<std::string>& known) {
  const std::string flag = typed.substr(0, typed.find('='));
  std::optional<std::string> best;
  size_t best_distance = std::max<size_t>(2, flag.size() / 3) + 1;
  bool tie = false;
  for (const auto& candidate : known) {
    size_t d = EditDistance(flag, candidate);
    if (d < best_distance) {
      best = candidate;
      best_distance = d;
      tie = false;
    } else if (d == best_distance && best) {
      tie = true;
    }
  }
  if (tie) return std::nullopt;  // two equally near: do not guess
  return best;
}

std::vector<std::string> LongFlags(const CLI::App& app) {
  std::vector<std::string> flags;
  for (const CLI::Option* option : app.get_options()) {
    for (const auto& name : option->get_lnames()) flags.push_back("--" + name);
  }
  return flags;
}

std::string UnknownArgumentsMessage(const CLI::App& app) {
  const auto known = LongFlags(app);
  std::string flags;
  std::string others;
  for (const auto& arg : app.remaining()) {
    if (arg.rfind("-", 0) != 0) {
      others += (others.empty() ? "unexpected argument " : ", ") + arg;
      continue;
    }
    if (!flags.empty()) flags += "; ";
    flags += "unknown flag " + arg.substr(0, arg.find('='));
    if (auto nearest = NearestFlag(arg, known)) {
      flags += " (did you mean " + *nearest + "?)";
    }
  }
  // After an unknown flag its value is left over too; naming it as well
  // would bury the one line that matters.
  return flags.empty() ? others : flags;
}

}  // namespace stemedb::cli
