// Text formatting shared by every generated artifact: numbers without float
// artefacts, YAML scalars, GitHub heading anchors, and a C++ rendition of the
// few Prometheus template functions the alert annotations use (so generated
// unit tests can state the exact text Prometheus will render).
//
// Thread safety: all functions are pure.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace stemedb::rulegen {

// The shortest decimal text that reads back as the same double ("0.1", not
// "0.1000000000000000055"); integral values below 2^53 as plain integers
// ("1073741824", not "1.073741824e+09"). Valid in PromQL, YAML and JSON.
std::string FormatNumber(double v);

// A ratio as a percentage for prose, by moving the decimal point of the
// ratio's shortest text: 0.07 -> "7", 0.125 -> "12.5" (never "7.000000001").
std::string FormatPercent(double ratio);

// 1 - ratio computed in decimal, so 1 - 0.07 is 0.93 and not 0.9299999999.
// REQUIRES: 0 < ratio < 1.
double DecimalComplement(double ratio);

// A duration in seconds as PromQL accepts a scalar: "604800", "0.5".
std::string FormatSeconds(int64_t milliseconds);

// Go's fmt "%.4g" (what every Prometheus humanize function ends in).
std::string GoFormatG4(double v);

// Prometheus' template functions of the same names (template/template.go).
std::string HumanizePercentage(double v);
std::string Humanize1024(double v);
std::string HumanizeDuration(double seconds);

// Renders the subset of Go templates the generated annotations use:
// "{{ $labels.NAME }}", "{{ $value }}" (as "%.0f" is not Go's default, only
// with a pipe), "{{ $value | humanizePercentage }}", "| humanize1024",
// "| humanizeDuration", "| printf \"%.0f\"" and TemplateLiteral's
// {{ "{{" }}. Returns nullopt on any other action, so a template the tests
// cannot predict is caught at generation.
std::optional<std::string> RenderAlertTemplate(
    std::string_view tmpl, const std::map<std::string, std::string>& labels,
    double value);

// The anchor GitHub gives a Markdown heading: lower-cased; ASCII letters,
// digits, '-' and '_' kept; spaces become '-'; everything else (punctuation
// and non-ASCII symbols such as '§') dropped. "§1. Emergency Cleanup (Disk
// >98%)" -> "1-emergency-cleanup-disk-98". Non-ASCII letters, which GitHub
// keeps, are dropped too: the runbook's headings have none.
std::string GitHubAnchor(std::string_view heading);

// YAML scalars, written by yaml-cpp's emitter (its escaping, not a home-made
// one). DoubleQuoted escapes '\\', '"', control characters and the like;
// SingleQuoted (for PromQL selectors full of '"') falls back to double quotes
// for text single quotes cannot hold.
std::string YamlDoubleQuoted(std::string_view s);
std::string YamlSingleQuoted(std::string_view s);

// `text` as a Prometheus (Go) template that expands to exactly `text`: each
// "{{" becomes the action {{ "{{" }}; nothing else is special outside an
// action. For config text that lands in an alert's labels or annotations,
// which Prometheus expands as templates: "a {{ b" would otherwise fail
// `promtool check rules`, and "{{ $value }}" would be evaluated.
std::string TemplateLiteral(std::string_view text);

// A PromQL label value in double quotes, escaped.
std::string PromQuote(std::string_view s);

}  // namespace stemedb::rulegen
