#include "stemedb/rulegen/alertmanager.h"

#include <string>
#include <vector>

#include "stemedb/rulegen/format.h"

namespace stemedb::rulegen {
namespace {

std::string FlowList(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i != 0) out += ", ";
    out += YamlDoubleQuoted(items[i]);
  }
  return out + "]";
}

std::string Alternation(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : "|") + n;
  return out;
}

}  // namespace

std::string RenderAlertmanager(const RuleSet& rules,
                               const std::string& header) {
  std::string out = header;
  out +=
      "# Routes the StemeDB disk alerts by severity and inhibits a warning "
      "while\n"
      "# its critical twin fires on the same labels. The receivers are\n"
      "# placeholders: replace the webhook URLs with your own receivers. To "
      "merge\n"
      "# into an existing configuration, copy the StemeDB route (the one "
      "matching\n"
      "# alertname=~\"StemeDB.+\") under your route's `routes:`, and the\n"
      "# inhibit_rules.\n";
  out +=
      "route:\n"
      "  receiver: \"default\"\n"
      "  group_by: [\"alertname\", \"job\", \"instance\"]\n"
      "  group_wait: 30s\n"
      "  group_interval: 5m\n"
      "  repeat_interval: 4h\n"
      "  routes:\n"
      "    - matchers:\n"
      "        - 'alertname=~\"StemeDB.+\"'\n"
      "      receiver: \"stemedb-warning\"\n"
      "      group_by: [\"alertname\", \"job\", \"instance\", \"mountpoint\", "
      "\"component\"]\n"
      "      routes:\n"
      "        - matchers:\n"
      "            - 'severity=\"critical\"'\n"
      "          receiver: \"stemedb-critical\"\n"
      "          repeat_interval: 1h\n"
      "        - matchers:\n"
      "            - 'severity=\"warning\"'\n"
      "          receiver: \"stemedb-warning\"\n"
      "        - matchers:\n"
      "            - 'severity=\"info\"'\n"
      "          receiver: \"stemedb-info\"\n"
      "          repeat_interval: 24h\n";
  out += "receivers:\n";
  for (const char* name :
       {"default", "stemedb-critical", "stemedb-warning", "stemedb-info"}) {
    out += "  - name: \"" + std::string(name) + "\"\n";
    out += "    webhook_configs:\n";
    out += "      - url: \"http://127.0.0.1:5001/" + std::string(name) + "\"\n";
  }
  out += "inhibit_rules:\n";
  for (const AlertRule* a : rules.Alerts()) {
    if (a->inhibits.empty()) continue;
    out += "  - source_matchers:\n";
    out +=
        "      - " + YamlSingleQuoted("alertname=" + PromQuote(a->name)) + "\n";
    out += "    target_matchers:\n";
    out +=
        "      - " +
        YamlSingleQuoted("alertname=~" + PromQuote(Alternation(a->inhibits))) +
        "\n";
    out += "    equal: " + FlowList(a->inhibit_equal) + "\n";
  }
  return out;
}

}  // namespace stemedb::rulegen
