#include "stemedb/diagnose/time_until_full.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <set>

#include "format.h"
#include "stemedb/base/utf8.h"

namespace stemedb::diagnose {
namespace {

using Json = nlohmann::json;

constexpr size_t kMaxOtherInstances = 10;

// The "data" of a Prometheus API answer; throws std::runtime_error.
Json Data(const std::string& body) {
  Json j = Json::parse(body);  // throws parse_error, a std::exception
  if (!j.is_object() || j.value("status", "") != "success" ||
      !j.contains("data")) {
    throw std::runtime_error("not a successful Prometheus API answer");
  }
  return j.at("data");
}

std::string Label(const Json& metric, const char* name) {
  if (!metric.is_object() || !metric.contains(name)) return "";
  const Json& v = metric.at(name);
  return v.is_string() ? v.get<std::string>() : "";
}

// Prometheus writes sample values as strings: "1234.5", "+Inf", "NaN".
double SampleValue(const Json& value) {
  if (!value.is_array() || value.size() != 2 || !value[1].is_string()) {
    throw std::runtime_error("a sample is not [time, \"value\"]");
  }
  return std::strtod(value[1].get<std::string>().c_str(), nullptr);
}

FilesystemTimeUntilFull* FilesystemOf(TimeUntilFull* out,
                                      const std::string& mountpoint) {
  for (auto& fs : out->filesystems) {
    if (fs.mountpoint == mountpoint) return &fs;
  }
  out->filesystems.push_back({});
  out->filesystems.back().mountpoint = mountpoint;
  return &out->filesystems.back();
}

std::string Seconds(bool known, double seconds) {
  if (!known) return "not filling";
  if (std::isnan(seconds)) return "unknown";
  if (seconds <= 0) return "full now";
  if (std::isinf(seconds)) return "not filling";
  return "in " + detail::Age(seconds);
}

Json SecondsJson(bool known, double seconds) {
  if (!known || !std::isfinite(seconds)) return nullptr;
  return seconds;
}

}  // namespace

stemedb::Status ReadRuleNames(const std::string& body,
                              std::vector<std::string>* names) {
  try {
    const Json data = Data(body);
    for (const auto& g : data.at("groups")) {
      for (const auto& r : g.at("rules")) {
        if (r.value("type", "") == "recording") {
          names->push_back(r.value("name", ""));
        }
      }
    }
  } catch (const std::exception& e) {
    return Error::Message(std::string("/api/v1/rules: ") + e.what());
  }
  return std::nullopt;
}

stemedb::Status ReadTimeSeries(const std::string& body, bool inodes,
                               TimeUntilFull* out) {
  std::set<std::string> others(out->other_instances.begin(),
                               out->other_instances.end());
  try {
    const Json data = Data(body);
    if (data.value("resultType", "") != "vector") {
      throw std::runtime_error("not a vector");
    }
    for (const auto& s : data.at("result")) {
      const Json& metric = s.at("metric");
      const std::string instance = Label(metric, "instance");
      if (instance != out->instance) {
        if (others.size() < kMaxOtherInstances) others.insert(instance);
        continue;
      }
      FilesystemTimeUntilFull* fs =
          FilesystemOf(out, Label(metric, "mountpoint"));
      const double v = SampleValue(s.at("value"));
      (inodes ? fs->inodes_known : fs->bytes_known) = true;
      (inodes ? fs->inodes_seconds : fs->bytes_seconds) = v;
    }
  } catch (const std::exception& e) {
    return Error::Message(std::string("/api/v1/query: ") + e.what());
  }
  out->other_instances.assign(others.begin(), others.end());
  std::sort(
      out->filesystems.begin(), out->filesystems.end(),
      [](const auto& a, const auto& b) { return a.mountpoint < b.mountpoint; });
  return std::nullopt;
}

std::string RenderTimeUntilFullText(const TimeUntilFull& t) {
  std::string out = "\nTime until full (Prometheus " +
                    EscapeForTerminal(t.url) + ", instance " +
                    EscapeForTerminal(t.instance) + ")\n";
  if (!t.reached) {
    return out +
           "  Prometheus could not be asked: " + EscapeForTerminal(t.error) +
           "\n";
  }
  if (!t.bytes_rule || !t.inodes_rule) {
    out += "  not loaded in this Prometheus:";
    if (!t.bytes_rule) out += std::string(" ") + kTimeUntilFullRule;
    if (!t.inodes_rule) out += std::string(" ") + kInodesTimeUntilFullRule;
    out += " (load rules/stemedb-disk.rules.yml)\n";
  }
  if (!t.bytes_rule && !t.inodes_rule) return out;
  if (t.filesystems.empty()) {
    out += "  no filesystem of this instance is filling";
    if (!t.other_instances.empty()) {
      out += "; the rules have series for other instances:";
      for (const auto& i : t.other_instances) {
        out += " " + EscapeForTerminal(i);
      }
      out += " (--prometheus.instance)";
    }
    return out + "\n";
  }
  for (const auto& fs : t.filesystems) {
    out += "  " + EscapeForTerminal(fs.mountpoint) + ": space " +
           Seconds(fs.bytes_known, fs.bytes_seconds) + ", inodes " +
           Seconds(fs.inodes_known, fs.inodes_seconds) + "\n";
  }
  return out;
}

std::string TimeUntilFullJson(const TimeUntilFull& t) {
  Json fss = Json::array();
  for (const auto& fs : t.filesystems) {
    fss.push_back(Json{
        {"mountpoint", EscapeInvalidUtf8(fs.mountpoint)},
        {"bytes_seconds", SecondsJson(fs.bytes_known, fs.bytes_seconds)},
        {"inodes_seconds", SecondsJson(fs.inodes_known, fs.inodes_seconds)}});
  }
  Json others = Json::array();
  for (const auto& i : t.other_instances)
    others.push_back(EscapeInvalidUtf8(i));
  Json j{{"url", EscapeInvalidUtf8(t.url)},
         {"instance", EscapeInvalidUtf8(t.instance)},
         {"reached", t.reached},
         {"error", EscapeInvalidUtf8(t.error)},
         {"bytes_rule_loaded", t.bytes_rule},
         {"inodes_rule_loaded", t.inodes_rule},
         {"other_instances", std::move(others)},
         {"filesystems", std::move(fss)}};
  return j.dump();
}

}  // namespace stemedb::diagnose
