#include "stemedb/diagnose/sections.h"

#include <nlohmann/json.hpp>

#include "stemedb/base/utf8.h"

namespace stemedb::diagnose {

std::string AppendSectionsText(std::string text, const Sections& sections) {
  if (sections.growth) {
    text += RenderGrowthText(*sections.growth);
  } else if (sections.growth_asked) {
    text += "\nGrowing fastest: unknown (" +
            EscapeForTerminal(sections.growth_error) + ")\n";
  }
  if (sections.time_until_full) {
    text += RenderTimeUntilFullText(*sections.time_until_full);
  }
  return text;
}

std::string AddSectionsJson(const std::string& json, const Sections& sections) {
  using Json = nlohmann::json;
  Json j = Json::parse(json);  // our own rendering: valid
  Json growth = nullptr;
  if (sections.growth) {
    growth = Json::parse(GrowthJson(*sections.growth));
  } else if (sections.growth_asked) {
    growth = Json{{"error", EscapeInvalidUtf8(sections.growth_error)}};
  }
  j["growth"] = std::move(growth);
  j["time_until_full"] =
      sections.time_until_full
          ? Json::parse(TimeUntilFullJson(*sections.time_until_full))
          : Json(nullptr);
  return j.dump(2) + "\n";
}

}  // namespace stemedb::diagnose
