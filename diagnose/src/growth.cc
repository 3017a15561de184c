#include "stemedb/diagnose/growth.h"

#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "format.h"
#include "stemedb/base/utf8.h"

namespace stemedb::diagnose {
namespace {

using Json = nlohmann::json;

// A growth document is a few KiB (two windows of at most 20 entries).
constexpr size_t kMaxEntries = 1000;

Json EntryJson(const GrowthEntry& e) {
  return Json{{"component", EscapeInvalidUtf8(e.component)},
              {"path", EscapeInvalidUtf8(e.path)},
              {"growth_bytes", e.growth_bytes},
              {"bytes_per_hour", e.bytes_per_hour},
              {"bytes_now", e.bytes_now}};
}

// Throws std::runtime_error naming the field.
const Json& Field(const Json& j, const char* key, const std::string& where) {
  if (!j.is_object() || !j.contains(key)) {
    throw std::runtime_error(where + key + ": missing");
  }
  return j.at(key);
}

template <typename T>
T Number(const Json& j, const char* key, const std::string& where) {
  const Json& v = Field(j, key, where);
  if (!v.is_number()) throw std::runtime_error(where + key + ": not a number");
  if constexpr (std::is_integral_v<T>) {
    if (!v.is_number_integer()) {
      throw std::runtime_error(where + key + ": not an integer");
    }
    if (std::is_unsigned_v<T> && !v.is_number_unsigned()) {
      throw std::runtime_error(where + key + ": negative");
    }
    return std::is_unsigned_v<T> ? static_cast<T>(v.get<uint64_t>())
                                 : static_cast<T>(v.get<int64_t>());
  }
  return v.get<T>();
}

std::string Text(const Json& j, const char* key, const std::string& where) {
  const Json& v = Field(j, key, where);
  if (!v.is_string()) throw std::runtime_error(where + key + ": not a string");
  return v.get<std::string>();
}

const Json& List(const Json& j, const char* key, const std::string& where) {
  const Json& v = Field(j, key, where);
  if (!v.is_array() || v.size() > kMaxEntries) {
    throw std::runtime_error(where + key + ": not a short array");
  }
  return v;
}

GrowthWindow ReadWindow(const Json& j, const std::string& w) {
  GrowthWindow win;
  win.name = Text(j, "name", w);
  win.window_seconds = Number<double>(j, "window_seconds", w);
  win.span_seconds = Number<double>(j, "span_seconds", w);
  const Json& top = List(j, "top", w);
  for (size_t i = 0; i < top.size(); ++i) {
    const std::string ew = w + "top[" + std::to_string(i) + "].";
    GrowthEntry e;
    e.component = Text(top[i], "component", ew);
    e.path = Text(top[i], "path", ew);
    e.growth_bytes = Number<int64_t>(top[i], "growth_bytes", ew);
    e.bytes_per_hour = Number<double>(top[i], "bytes_per_hour", ew);
    e.bytes_now = Number<uint64_t>(top[i], "bytes_now", ew);
    win.top.push_back(std::move(e));
  }
  return win;
}

std::string PerHour(double bytes_per_hour) {
  const double b = std::max(0.0, bytes_per_hour);
  return detail::HumanBytes(static_cast<uint64_t>(std::ceil(b))) + "/h";
}

}  // namespace

std::string GrowthJson(const GrowthReport& report) {
  Json windows = Json::array();
  for (const auto& w : report.windows) {
    Json top = Json::array();
    for (const auto& e : w.top) top.push_back(EntryJson(e));
    windows.push_back(Json{{"name", w.name},
                           {"window_seconds", w.window_seconds},
                           {"span_seconds", w.span_seconds},
                           {"top", std::move(top)}});
  }
  Json j{{"timestamp", report.timestamp},
         {"tracked", report.tracked},
         {"tracked_limit", report.tracked_limit},
         {"windows", std::move(windows)}};
  return j.dump(2) + "\n";
}

stemedb::Status ParseGrowthJson(const std::string& body, GrowthReport* out) {
  Json j;
  try {
    j = Json::parse(body);
  } catch (const Json::parse_error& e) {
    return Error::Message(std::string("not JSON: ") + e.what());
  }
  try {
    GrowthReport r;
    r.timestamp = Number<double>(j, "timestamp", "");
    r.tracked = Number<uint64_t>(j, "tracked", "");
    r.tracked_limit = Number<uint64_t>(j, "tracked_limit", "");
    const Json& windows = List(j, "windows", "");
    for (size_t i = 0; i < windows.size(); ++i) {
      r.windows.push_back(
          ReadWindow(windows[i], "windows[" + std::to_string(i) + "]."));
    }
    *out = std::move(r);
  } catch (const std::exception& e) {
    return Error::Message(e.what());
  }
  return std::nullopt;
}

std::string RenderGrowthText(const GrowthReport& report) {
  std::string out = "\nGrowing fastest (allocated bytes of the subtree)\n";
  for (const auto& w : report.windows) {
    out += "  last " + w.name;
    if (w.span_seconds + 1 < w.window_seconds) {
      out += " (history covers " + detail::Age(w.span_seconds) + ")";
    }
    out += ":\n";
    if (w.top.empty()) out += "    nothing grew\n";
    for (const auto& e : w.top) {
      char line[64];
      std::snprintf(line, sizeof line, "    %10s  +%-7s  ",
                    PerHour(e.bytes_per_hour).c_str(),
                    detail::HumanBytes(static_cast<uint64_t>(std::max<int64_t>(
                                           0, e.growth_bytes)))
                        .c_str());
      out += line + EscapeForTerminal(e.path) + " (" +
             EscapeForTerminal(e.component) + ")\n";
    }
  }
  out += "  (" + std::to_string(report.tracked) +
         " directories tracked, at most " +
         std::to_string(report.tracked_limit) + ")\n";
  return out;
}

}  // namespace stemedb::diagnose
