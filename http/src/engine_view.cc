#include "stemedb/http/engine_view.h"

#include "stemedb/diagnose/snapshot_numbers.h"

namespace stemedb::exporter {

std::shared_ptr<const std::string> EngineView::Exposition() const {
  return exporter_->Exposition();
}

bool EngineView::Ready() const { return exporter_->Ready(); }

std::string EngineView::DiagnoseJson() const {
  return exporter::DiagnoseJson(*exporter_->CurrentSnapshot(),
                                exporter_->CurrentConfig());
}

std::string EngineView::GrowthJson() const {
  return diagnose::GrowthJson(exporter_->Growth());
}

}  // namespace stemedb::exporter
