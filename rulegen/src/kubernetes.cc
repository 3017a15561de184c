#include "stemedb/rulegen/kubernetes.h"

#include <string>

namespace stemedb::rulegen {

std::string KubernetesName(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (ok) {
      out.push_back(c);
    } else if (!out.empty() && out.back() != '-') {
      out.push_back('-');
    }
  }
  while (!out.empty() && out.back() == '-') out.pop_back();
  if (out.size() > 63) out.resize(63);
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out.empty() ? "stemedb-disk" : out;
}

std::string RenderPrometheusRule(const RuleSet& rules, const std::string& name,
                                 const std::string& header) {
  return header +
         "# The rules as a Prometheus Operator object. Add the labels your\n"
         "# Prometheus' ruleSelector matches (kube-prometheus-stack: "
         "release: <name>).\n"
         "apiVersion: monitoring.coreos.com/v1\n"
         "kind: PrometheusRule\n"
         "metadata:\n"
         "  name: " +
         name +
         "\n"
         "  labels:\n"
         "    app.kubernetes.io/name: " +
         name +
         "\n"
         "    app.kubernetes.io/part-of: stemedb\n"
         "spec:\n"
         "  groups:\n" +
         RenderGroupsYaml(rules, 4);
}

}  // namespace stemedb::rulegen
