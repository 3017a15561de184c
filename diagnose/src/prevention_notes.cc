#include "stemedb/diagnose/prevention_notes.h"

#include <string>

namespace stemedb::diagnose {

void AddPreventionNotes(const std::vector<PreventionCheck>& checks,
                        Numbers* numbers) {
  for (const PreventionCheck& check : checks) {
    if (!check.failing) continue;
    numbers->notes.push_back("prevention check " + std::string(check.name) +
                             ": " + check.detail +
                             "; runbook Prevention: " + check.advice + ".");
  }
}

}  // namespace stemedb::diagnose
