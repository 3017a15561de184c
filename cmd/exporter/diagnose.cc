#include "diagnose.h"

#include <boost/filesystem.hpp>
#include <cstdio>
#include <string>
#include <utility>

#include "diagnose_sections.h"
#include "stemedb/base/log.h"
#include "stemedb/base/user_file.h"
#include "stemedb/diagnose/fetch.h"
#include "stemedb/diagnose/render.h"
#include "stemedb/diagnose/snapshot_numbers.h"

namespace stemedb::cmd {
namespace {

// Reads the first line of a password file (no trailing newline).
Status ReadPassword(const std::string& path, std::string* password) {
  std::string text;
  if (Status err = ReadUserFile(path, kPasswordFileKind, &text)) return err;
  *password = text.substr(0, text.find_first_of("\r\n"));
  return std::nullopt;
}

// The fetch options --from.* describe; the error message is complete.
Status FetchOptionsOf(const DiagnoseFlags& flags,
                      diagnose::FetchOptions* options) {
  options->user = flags.from_user;
  options->ca_file = flags.from_ca_file;
  options->cert_file = flags.from_cert_file;
  options->key_file = flags.from_key_file;
  if (options->cert_file.empty() != options->key_file.empty()) {
    return Error::Message("--from.cert-file and --from.key-file go together");
  }
  if (Status err = DurationFlag("--from.timeout", flags.from_timeout,
                                &options->timeout)) {
    return err;
  }
  if (!flags.from_password_file.empty()) {
    if (flags.from_user.empty()) {
      return Error::Message("--from.password-file: only with --from.user");
    }
    if (Status err =
            ReadPassword(flags.from_password_file, &options->password)) {
      return Error::Message("--from.password-file: " + err->ToString());
    }
  }
  return std::nullopt;
}

// The numbers and limits of a running exporter (--from); *options: how it
// was reached.
Status FetchNumbers(const DiagnoseFlags& flags, diagnose::Numbers* numbers,
                    diagnose::Limits* limits, diagnose::FetchOptions* options) {
  if (!flags.config_file.empty() || !flags.root.empty()) {
    return Error::Message(
        "--from reads the exporter's own config and root: drop --config "
        "and --root");
  }
  if (Status err = FetchOptionsOf(flags, options)) return err;
  std::string body;
  if (Status err = diagnose::FetchDiagnosis(flags.from, *options, &body)) {
    return Error::Message("--from: " + err->message);
  }
  if (Status err = diagnose::ParseJson(body, numbers, limits)) {
    err->file = flags.from + "/diagnose";
    err->message = "not a diagnosis: " + err->message;
    return Error::Message("--from: " + err->ToString());
  }
  return std::nullopt;
}

// The numbers of a walk of the layout --config and --root describe.
Status WalkConfigNumbers(const DiagnoseFlags& flags, diagnose::Numbers* numbers,
                         diagnose::Limits* limits) {
  if (!flags.root.empty()) {
    boost::system::error_code ec;
    if (!boost::filesystem::is_directory(flags.root, ec)) {
      return Error::Message("--root: " + flags.root + ": not a directory");
    }
  }
  Config config;
  if (Status err = LoadConfig(flags.config_file, flags.root, &config)) {
    return Error::Message(err->ToString());
  }
  *numbers = exporter::WalkNumbers(config);
  *limits = diagnose::LimitsFrom(config.thresholds, config.alerts);
  return std::nullopt;
}

}  // namespace

int RunDiagnose(const DiagnoseFlags& flags) {
  // Warnings only, on stderr: the report is the output.
  log::Configure(log::Level::kWarn, log::Format::kLogfmt);
  if (flags.format != "text" && flags.format != "json") {
    return DiagnoseFail("--format: \"" + flags.format +
                        "\" is not one of text, json");
  }
  diagnose::Numbers numbers;
  diagnose::Limits limits;
  diagnose::FetchOptions from;
  diagnose::Sections sections;
  if (Status err = flags.from.empty()
                       ? WalkConfigNumbers(flags, &numbers, &limits)
                       : FetchNumbers(flags, &numbers, &limits, &from)) {
    return DiagnoseFail(err->message);
  }
  if (Status err = GatherSections(flags, flags.from.empty() ? nullptr : &from,
                                  &sections)) {
    return DiagnoseFail(err->message);
  }
  const auto report = diagnose::Diagnose(std::move(numbers), limits);
  const std::string out =
      flags.format == "json"
          ? diagnose::AddSectionsJson(diagnose::RenderJson(report), sections)
          : diagnose::AppendSectionsText(diagnose::RenderText(report),
                                         sections);
  std::fwrite(out.data(), 1, out.size(), stdout);
  if (std::fflush(stdout) != 0) return kDiagnoseUnknown;
  return static_cast<int>(report.status);
}

}  // namespace stemedb::cmd
