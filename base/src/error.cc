#include "stemedb/base/error.h"

#include "stemedb/base/utf8.h"

namespace stemedb {

std::string Error::ToString() const {
  std::string out = file;
  if (line > 0) {
    out += ":" + std::to_string(line);
    if (column > 0) out += ":" + std::to_string(column);
  }
  for (const std::string* part : {&key_path, &message}) {
    if (part->empty()) continue;
    if (!out.empty()) out += ": ";
    out += *part;
  }
  // Paths and keys come from outside (a directory name, a YAML key) and
  // this string goes to a terminal.
  return EscapeForTerminal(out);
}

}  // namespace stemedb
