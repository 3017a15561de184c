// The command-line convention both programs follow (docs/cli.md): one
// exit-status table, every error on one line as "PROGRAM: error: ..."
// naming the flag, CLI11's own parse errors reworded that way, and --help
// laid out like node_exporter's (`--flag=TYPE  what it does (default: x)`,
// wrapped at 80 columns).
//
// Thread safety: ParseCommandLine and PrintError write to the standard
// streams; the rest are pure functions.
#ifndef STEMEDB_CLI_COMMAND_LINE_H_
#define STEMEDB_CLI_COMMAND_LINE_H_

#include <CLI/CLI.hpp>
#include <functional>
#include <optional>
#include <string>

namespace stemedb::cli {

// Exit statuses of stemedb_disk_exporter and stemedb_rulegen. The exporter's
// `diagnose` keeps the monitoring-plugin table instead (0 OK, 1 WARNING,
// 2 CRITICAL, 3 UNKNOWN, a bad flag included).
inline constexpr int kExitOk = 0;
// A runtime failure: an I/O error, a port in use; rulegen --check: the
// files differ.
inline constexpr int kExitFailure = 1;
// A bad flag or config: nothing was done.
inline constexpr int kExitUsage = 2;

// Prints "PROGRAM: error: MESSAGE\n" to stderr, control characters and
// invalid UTF-8 in MESSAGE escaped.
void PrintError(const std::string& program, const std::string& message);

// CLI11's parse error `e`, met while parsing `command`, in the convention's
// words, naming the flag: "--log.level: given 2 times; give it once",
// "--web.config.file: needs a value (FILE)", "--web.max-connections: \"x\" is
// not a valid N", "unknown flag --x (did you mean --y?)".
std::string ParseErrorMessage(const CLI::App& command,
                              const CLI::ParseError& e);

// The innermost (sub)command of `app` that the command line reached.
const CLI::App& ParsedCommand(const CLI::App& app);

// Parses argv. Returns nullopt when the program goes on; otherwise the exit
// status: 0 after --help printed the help, or what `fail(command, message)`
// returns for a bad command line (it prints the message).
std::optional<int> ParseCommandLine(
    CLI::App& app, int argc, char** argv,
    const std::function<int(const CLI::App& command,
                            const std::string& message)>& fail);

// Installs the help layout on `app` (its subcommands inherit it): `=TYPE`
// after a flag that takes a value, the default at the end of the
// description, descriptions wrapped at 80 columns beside a name column of
// `column` characters.
void UseHelpLayout(CLI::App& app, size_t column);

}  // namespace stemedb::cli

#endif  // STEMEDB_CLI_COMMAND_LINE_H_
