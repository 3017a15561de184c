#include "stemedb/base/paths.h"

#include <vector>

namespace stemedb {

std::string NormalizePath(std::string_view path) {
  const bool absolute = !path.empty() && path.front() == '/';
  std::vector<std::string_view> parts;
  size_t i = 0;
  while (i < path.size()) {
    size_t slash = path.find('/', i);
    if (slash == std::string_view::npos) slash = path.size();
    const std::string_view part = path.substr(i, slash - i);
    if (part == "..") {
      if (!parts.empty() && parts.back() != "..") {
        parts.pop_back();
      } else if (!absolute) {
        parts.push_back(part);  // a relative path may climb
      }
    } else if (!part.empty() && part != ".") {
      parts.push_back(part);
    }
    i = slash + 1;
  }
  std::string out;
  for (const std::string_view part : parts) {
    if (!out.empty() || absolute) out += '/';
    out += part;
  }
  if (out.empty()) return absolute ? "/" : ".";
  return out;
}

bool IsAtOrBelow(std::string_view path, std::string_view ancestor) {
  if (ancestor == "/") return !path.empty() && path.front() == '/';
  if (!path.starts_with(ancestor)) return false;
  return path.size() == ancestor.size() || path[ancestor.size()] == '/';
}

std::string Join(std::string_view dir, std::string_view name) {
  std::string out;
  out.reserve(dir.size() + 1 + name.size());  // one allocation, per directory
  out = dir;
  if (!out.empty() && out.back() != '/') out += '/';
  out += name;
  return out;
}

}  // namespace stemedb
