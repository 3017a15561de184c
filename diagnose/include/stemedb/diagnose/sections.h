// The report's optional sections, after the verdict: what is growing
// (`--from`: the exporter's GET /diagnose/growth) and time until full
// (`--prometheus`). Neither changes the exit status.
//
// Thread safety: plain values and pure functions; reentrant.
#pragma once

#include <optional>
#include <string>

#include "stemedb/diagnose/growth.h"
#include "stemedb/diagnose/time_until_full.h"

namespace stemedb::diagnose {

struct Sections {
  bool growth_asked = false;  // --from was given
  std::optional<GrowthReport> growth;
  std::string growth_error;  // why there is none, when asked
  std::optional<TimeUntilFull> time_until_full;
};

// `text`, the rendered report, followed by the sections.
std::string AppendSectionsText(std::string text, const Sections& sections);

// `json`, the rendered report (an object), with "growth" and
// "time_until_full" keys added (null when not asked for; growth also
// carries "error" when asked for and not had).
std::string AddSectionsJson(const std::string& json, const Sections& sections);

}  // namespace stemedb::diagnose
