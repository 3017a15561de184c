#include "stemedb/cli/command_line.h"

#include <iostream>
#include <memory>
#include <sstream>

#include "stemedb/base/utf8.h"
#include "stemedb/cli/suggest.h"

namespace stemedb::cli {
namespace {

constexpr size_t kHelpWidth = 80;

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// The option of `command` (or of the commands above it: CLI11 lets a
// parent's flag come after the subcommand) whose long name CLI11's message
// mentions; the longest such name, so --from.timeout wins over --from.
const CLI::Option* OptionIn(const CLI::App& command, const std::string& what) {
  const CLI::Option* best = nullptr;
  size_t best_length = 0;
  for (const CLI::App* app = &command; app != nullptr;
       app = app->get_parent()) {
    for (const CLI::Option* option : app->get_options()) {
      for (const std::string& name : option->get_lnames()) {
        const std::string flag = "--" + name;
        if (flag.size() > best_length && Contains(what, flag)) {
          best = option;
          best_length = flag.size();
        }
      }
    }
  }
  return best;
}

// The digits after `marker` in `what` ("received 2" -> "2").
std::string NumberAfter(const std::string& what, const std::string& marker) {
  const size_t at = what.find(marker);
  if (at == std::string::npos) return "";
  const size_t from = at + marker.size();
  const size_t end = what.find_first_not_of("0123456789", from);
  return what.substr(from, end == std::string::npos ? end : end - from);
}

// A flag (--once) has no type name; an option taking a value has one.
bool TakesValue(const CLI::Option& option) {
  return !option.get_type_name().empty();
}

std::string TypeOf(const CLI::Option& option) {
  const std::string type = option.get_type_name();
  return type.empty() ? "value" : type;
}

// A message for a flag CLI11 objected to, in our words.
std::string FlagMessage(const CLI::Option& option, const CLI::ParseError& e) {
  const std::string flag = "--" + option.get_lnames().front();
  const std::string what = e.what();
  if (dynamic_cast<const CLI::ArgumentMismatch*>(&e) != nullptr) {
    if (Contains(what, "At Most")) {
      return flag + ": given " + NumberAfter(what, "received ") +
             " times; give it once";
    }
    return flag + ": needs a value (" + TypeOf(option) + ")";
  }
  if (dynamic_cast<const CLI::ConversionError*>(&e) != nullptr) {
    if (!TakesValue(option)) return flag + ": takes no value";
    const size_t eq = what.find(" = ");
    const std::string value =
        eq == std::string::npos ? "" : " \"" + what.substr(eq + 3) + "\"";
    return flag + ":" + value + " is not a valid " + TypeOf(option);
  }
  // ValidationError and the rest: "NAME: reason" or "NAME reason".
  std::string reason = what;
  const size_t at = reason.find(flag);
  if (at != std::string::npos) reason.erase(0, at + flag.size());
  reason.erase(0, reason.find_first_not_of(": "));
  return flag + ": " + reason;
}

// `text` broken at spaces into lines of at most `width` characters.
std::string Wrap(const std::string& text, size_t width) {
  std::istringstream words(text);
  std::string out, line, word;
  while (words >> word) {
    if (!line.empty() && line.size() + 1 + word.size() > width) {
      out += line + "\n";
      line.clear();
    }
    line += (line.empty() ? "" : " ") + word;
  }
  return out + line;
}

class HelpFormatter : public CLI::Formatter {
 public:
  std::string make_option_opts(const CLI::Option* option) const override {
    return TakesValue(*option) ? "=" + TypeOf(*option) : "";
  }

  std::string make_option_desc(const CLI::Option* option) const override {
    std::string desc = option->get_description();
    std::string value = option->get_default_str();
    // A repeatable flag's default is a list: "[:19180]".
    if (value.size() >= 2 && value.front() == '[' && value.back() == ']') {
      value = value.substr(1, value.size() - 2);
    }
    if (!value.empty()) desc += " (default: " + value + ")";
    return Wrap(desc, DescriptionWidth());
  }

  std::string make_description(const CLI::App* app) const override {
    const std::string desc = app->get_description();
    return desc.empty() ? "" : Wrap(desc, kHelpWidth) + "\n";
  }

  std::string make_subcommand(const CLI::App* sub) const override {
    std::stringstream out;
    CLI::detail::format_help(out, sub->get_display_name(true),
                             Wrap(sub->get_description(), DescriptionWidth()),
                             get_column_width());
    return out.str();
  }

 private:
  size_t DescriptionWidth() const {
    const size_t column = get_column_width();
    return column + 30 < kHelpWidth ? kHelpWidth - column : 30;
  }
};

}  // namespace

void PrintError(const std::string& program, const std::string& message) {
  std::cerr << program << ": error: " << EscapeForTerminal(message) << "\n";
}

std::string ParseErrorMessage(const CLI::App& command,
                              const CLI::ParseError& e) {
  if (dynamic_cast<const CLI::ExtrasError*>(&e) != nullptr) {
    return UnknownArgumentsMessage(command);
  }
  const CLI::Option* option = OptionIn(command, e.what());
  if (option == nullptr || option->get_lnames().empty()) return e.what();
  return FlagMessage(*option, e);
}

const CLI::App& ParsedCommand(const CLI::App& app) {
  for (const CLI::App* sub : app.get_subcommands()) {
    if (sub->parsed()) return ParsedCommand(*sub);
  }
  return app;
}

std::optional<int> ParseCommandLine(
    CLI::App& app, int argc, char** argv,
    const std::function<int(const CLI::App& command,
                            const std::string& message)>& fail) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    const CLI::App& command = ParsedCommand(app);
    return fail(command, ParseErrorMessage(command, e));
  }
  return std::nullopt;
}

void UseHelpLayout(CLI::App& app, size_t column) {
  auto formatter = std::make_shared<HelpFormatter>();
  formatter->column_width(column);
  app.formatter(formatter);
}

}  // namespace stemedb::cli
