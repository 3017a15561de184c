// Answers a mistyped flag with the nearest one the program knows, the way
// git and kubectl do. CLI11 reports an unknown flag only as "not expected".
// Pure functions; thread-safe.
#ifndef STEMEDB_CLI_SUGGEST_H_
#define STEMEDB_CLI_SUGGEST_H_

#include <CLI/CLI.hpp>
#include <optional>
#include <string>
#include <vector>

namespace stemedb::cli {

// Levenshtein distance (insert, delete, substitute each cost 1).
size_t EditDistance(const std::string& a, const std::string& b);

// The candidate closest to `typed` ("--web.listen-adress=x" is compared
// without "=x"), if it is within a third of the flag's length (at least 2
// edits) and nearer than any other; nullopt when nothing is close.
std::optional<std::string> NearestFlag(const std::string& typed,
                                       const std::vector<std::string>& known);

// Every long flag of `app`, "--" included.
std::vector<std::string> LongFlags(const CLI::App& app);

// The message for the arguments CLI11 left over (app.remaining() after an
// ExtrasError): "unknown flag --x (did you mean --y?)" for each, or
// "unexpected argument x" for a non-flag. Empty when nothing is left over.
std::string UnknownArgumentsMessage(const CLI::App& app);

}  // namespace stemedb::cli

#endif  // STEMEDB_CLI_SUGGEST_H_
