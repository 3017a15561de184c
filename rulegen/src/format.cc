#include "stemedb/rulegen/format.h"

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>

#include "stemedb/base/strings.h"

namespace stemedb::rulegen {
namespace {

constexpr double kMaxExactInteger = 9007199254740992.0;  // 2^53

// The shortest round-trip text in fixed notation: "0.07", "0.00001".
std::string ShortestFixed(double v) {
  char buf[400];
  auto res = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed);
  return std::string(buf, res.ptr);
}

// How a Go template writes its own opening delimiter: an action whose
// pipeline is the string constant "{{".
constexpr std::string_view kLiteralOpen = "{{ \"{{\" }}";

// One scalar through yaml-cpp's emitter in the given style. Single quotes
// cannot hold a line break; yaml-cpp refuses, and double quotes can.
std::string EmitScalar(std::string_view s, YAML::EMITTER_MANIP style) {
  YAML::Emitter emitter;
  emitter << style << std::string(s);
  if (!emitter.good() && style != YAML::DoubleQuoted) {
    return EmitScalar(s, YAML::DoubleQuoted);
  }
  return emitter.c_str();
}

}  // namespace

std::string FormatNumber(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < kMaxExactInteger) {
    return std::to_string(static_cast<int64_t>(v));
  }
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, res.ptr);
}

std::string FormatPercent(double ratio) {
  std::string text = ShortestFixed(ratio);
  std::string sign;
  if (!text.empty() && text.front() == '-') {
    sign = "-";
    text.erase(0, 1);
  }
  const size_t dot = text.find('.');
  std::string int_part = dot == std::string::npos ? text : text.substr(0, dot);
  std::string frac = dot == std::string::npos ? "" : text.substr(dot + 1);
  while (frac.size() < 2) frac.push_back('0');
  int_part += frac.substr(0, 2);
  frac.erase(0, 2);
  while (int_part.size() > 1 && int_part.front() == '0') int_part.erase(0, 1);
  while (!frac.empty() && frac.back() == '0') frac.pop_back();
  return sign + int_part + (frac.empty() ? "" : "." + frac);
}

double DecimalComplement(double ratio) {
  const std::string text = ShortestFixed(ratio);  // "0.d1d2...dn", dn != 0
  const size_t dot = text.find('.');
  if (dot == std::string::npos || text.substr(0, dot) != "0") {
    return 1.0 - ratio;  // outside (0,1): no decimal trick needed or possible
  }
  std::string frac = text.substr(dot + 1);
  // 1 - 0.d1..dn = 0.(9-d1)..(9-d[n-1])(10-dn): no borrow reaches the front.
  for (size_t i = 0; i + 1 < frac.size(); ++i) frac[i] = '9' - (frac[i] - '0');
  frac.back() = '0' + (10 - (frac.back() - '0'));
  const std::string complement = "0." + frac;
  double out = 0;
  std::from_chars(complement.data(), complement.data() + complement.size(),
                  out);
  return out;
}

std::string FormatSeconds(int64_t milliseconds) {
  if (milliseconds % 1000 == 0) return std::to_string(milliseconds / 1000);
  return FormatNumber(static_cast<double>(milliseconds) / 1000.0);
}

std::string GoFormatG4(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  // Go's %g and C's %g agree for finite values: same significant digits,
  // round-half-even on exact ties, trailing zeros dropped, "e+06" exponents.
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

std::string HumanizePercentage(double v) { return GoFormatG4(v * 100) + "%"; }

std::string Humanize1024(double v) {
  if (std::fabs(v) <= 1 || std::isnan(v) || std::isinf(v)) {
    return GoFormatG4(v);
  }
  std::string prefix;
  for (const char* p : {"ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"}) {
    if (std::fabs(v) < 1024) break;
    prefix = p;
    v /= 1024;
  }
  return GoFormatG4(v) + prefix;
}

std::string HumanizeDuration(double v) {
  if (std::isnan(v) || std::isinf(v)) return GoFormatG4(v);
  if (v == 0) return GoFormatG4(v) + "s";
  if (std::fabs(v) >= 1) {
    std::string sign;
    if (v < 0) {
      sign = "-";
      v = -v;
    }
    const auto whole = static_cast<int64_t>(v);
    const int64_t seconds = whole % 60;
    const int64_t minutes = (whole / 60) % 60;
    const int64_t hours = (whole / 60 / 60) % 24;
    const int64_t days = whole / 60 / 60 / 24;
    auto s = [](int64_t n) { return std::to_string(n); };
    if (days != 0) {
      return sign + s(days) + "d " + s(hours) + "h " + s(minutes) + "m " +
             s(seconds) + "s";
    }
    if (hours != 0) {
      return sign + s(hours) + "h " + s(minutes) + "m " + s(seconds) + "s";
    }
    if (minutes != 0) return sign + s(minutes) + "m " + s(seconds) + "s";
    return sign + GoFormatG4(v) + "s";
  }
  std::string prefix;
  for (const char* p : {"m", "u", "n", "p", "f", "a", "z", "y"}) {
    if (std::fabs(v) >= 1) break;
    prefix = p;
    v *= 1000;
  }
  return GoFormatG4(v) + prefix + "s";
}

std::optional<std::string> RenderAlertTemplate(
    std::string_view tmpl, const std::map<std::string, std::string>& labels,
    double value) {
  std::string out;
  size_t pos = 0;
  while (pos < tmpl.size()) {
    const size_t open = tmpl.find("{{", pos);
    if (open == std::string_view::npos) {
      out.append(tmpl.substr(pos));
      break;
    }
    out.append(tmpl.substr(pos, open - pos));
    const size_t close = tmpl.find("}}", open);
    if (close == std::string_view::npos) return std::nullopt;
    const std::string_view action =
        Trim(tmpl.substr(open + 2, close - open - 2), " ");
    pos = close + 2;

    if (tmpl.substr(open).starts_with(kLiteralOpen)) {  // TemplateLiteral's
      out += "{{";
      pos = open + kLiteralOpen.size();
      continue;
    }

    constexpr std::string_view kLabels = "$labels.";
    if (action.starts_with(kLabels)) {
      auto it = labels.find(std::string(action.substr(kLabels.size())));
      // Go templates run with missingkey=zero: an absent label is "".
      if (it != labels.end()) out += it->second;
      continue;
    }
    const size_t pipe = action.find('|');
    if (pipe == std::string_view::npos ||
        Trim(action.substr(0, pipe), " ") != "$value") {
      return std::nullopt;
    }
    const std::string_view func = Trim(action.substr(pipe + 1), " ");
    if (func == "humanizePercentage") {
      out += HumanizePercentage(value);
    } else if (func == "humanize1024") {
      out += Humanize1024(value);
    } else if (func == "humanizeDuration") {
      out += HumanizeDuration(value);
    } else if (func == "printf \"%.0f\"") {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.0f", value);
      out += buf;
    } else {
      return std::nullopt;
    }
  }
  return out;
}

std::string GitHubAnchor(std::string_view heading) {
  std::string out;
  for (char c : heading) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 'A' && u <= 'Z') {
      out.push_back(static_cast<char>(u - 'A' + 'a'));
    } else if ((u >= 'a' && u <= 'z') || (u >= '0' && u <= '9') || c == '-' ||
               c == '_') {
      out.push_back(c);
    } else if (c == ' ') {
      out.push_back('-');
    }
  }
  return out;
}

std::string YamlDoubleQuoted(std::string_view s) {
  return EmitScalar(s, YAML::DoubleQuoted);
}

std::string YamlSingleQuoted(std::string_view s) {
  return EmitScalar(s, YAML::SingleQuoted);
}

std::string TemplateLiteral(std::string_view text) {
  std::string out;
  size_t pos = 0;
  for (size_t open = text.find("{{"); open != std::string_view::npos;
       open = text.find("{{", pos)) {
    out.append(text.substr(pos, open - pos));
    out += kLiteralOpen;
    pos = open + 2;
  }
  out.append(text.substr(pos));
  return out;
}

std::string PromQuote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out + "\"";
}

}  // namespace stemedb::rulegen
