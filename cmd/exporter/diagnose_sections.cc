#include "diagnose_sections.h"

#include <unistd.h>

#include <climits>
#include <string>

namespace stemedb::cmd {
namespace {

// The exporter's default port (--web.listen-address :19180).
constexpr char kDefaultPort[] = "19180";

// This node's instance label: --prometheus.instance; else the host:port
// --from reaches (Prometheus scrapes the same exporter); else
// HOSTNAME:19180, the target a static config usually names.
Status InstanceOf(const DiagnoseFlags& flags, std::string* instance) {
  if (!flags.prometheus_instance.empty()) {
    *instance = flags.prometheus_instance;
    return std::nullopt;
  }
  if (!flags.from.empty()) {
    diagnose::Url u;
    if (Status err = diagnose::ParseUrl(flags.from, &u)) return err;
    const bool v6 = u.host.find(':') != std::string::npos;
    *instance = (v6 ? "[" + u.host + "]" : u.host) + ":" + u.port;
    return std::nullopt;
  }
  char host[HOST_NAME_MAX + 1] = {};
  if (gethostname(host, sizeof host - 1) != 0) {
    return Error::Message("--prometheus.instance: no hostname; give one");
  }
  *instance = std::string(host) + ":" + kDefaultPort;
  return std::nullopt;
}

void GatherGrowth(const DiagnoseFlags& flags,
                  const diagnose::FetchOptions& options,
                  diagnose::Sections* sections) {
  sections->growth_asked = true;
  std::string body;
  if (Status err =
          diagnose::FetchPath(flags.from, "/diagnose/growth", options, &body)) {
    sections->growth_error = err->message;
    return;
  }
  diagnose::GrowthReport report;
  if (Status err = diagnose::ParseGrowthJson(body, &report)) {
    sections->growth_error =
        flags.from + "/diagnose/growth: not a growth report: " + err->message;
    return;
  }
  sections->growth = std::move(report);
}

}  // namespace

Status GatherSections(const DiagnoseFlags& flags,
                      const diagnose::FetchOptions* from_options,
                      diagnose::Sections* sections) {
  if (flags.prometheus.empty() && !flags.prometheus_instance.empty()) {
    return Error::Message("--prometheus.instance: only with --prometheus");
  }
  diagnose::FetchOptions prometheus;
  std::string instance;
  if (!flags.prometheus.empty()) {
    diagnose::Url u;
    if (Status err = diagnose::ParseUrl(flags.prometheus, &u)) {
      return Error::Message("--prometheus: " + err->message);
    }
    if (Status err =
            DurationFlag("--prometheus.timeout", flags.prometheus_timeout,
                         &prometheus.timeout)) {
      return err;
    }
    if (Status err = InstanceOf(flags, &instance)) return err;
  }
  if (from_options) GatherGrowth(flags, *from_options, sections);
  if (!flags.prometheus.empty()) {
    sections->time_until_full =
        diagnose::AskPrometheus(flags.prometheus, instance, prometheus);
  }
  return std::nullopt;
}

}  // namespace stemedb::cmd
