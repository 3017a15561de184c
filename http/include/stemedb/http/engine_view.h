// The HTTP front's view (exporter_view.h) of the real engine: an Exporter's
// exposition and readiness, and the diagnosis of its current snapshot. Its
// own target (stemedb::engine_view), so that stemedb::http links no engine.
//
// Thread safety: as Exporter's; every method may be called from any thread.
#pragma once

#include <memory>
#include <string>

#include "stemedb/engine/exporter.h"
#include "stemedb/http/exporter_view.h"

namespace stemedb::exporter {

class EngineView final : public ExporterView {
 public:
  // `exporter` must outlive the view.
  explicit EngineView(const Exporter* exporter) : exporter_(exporter) {}

  std::shared_ptr<const std::string> Exposition() const override;
  bool Ready() const override;
  // Built per call from the last snapshot: no I/O.
  std::string DiagnoseJson() const override;
  std::string GrowthJson() const override;

 private:
  const Exporter* const exporter_;
};

}  // namespace stemedb::exporter
