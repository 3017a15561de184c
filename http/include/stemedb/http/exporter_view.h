// What the HTTP front needs of the engine, and no more: the current
// exposition, readiness and the /diagnose document. The server and the
// router see the engine only through this, so their tests serve a fixed
// text (FixedView) instead of walking a tree, and stemedb::http does not
// link the engine; engine_view.h adapts the real Exporter.
//
// Thread safety: an implementation's methods may be called from any thread
// at once, and must not block on the filesystem (a scrape calls them).
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <utility>

namespace stemedb::exporter {

class ExporterView {
 public:
  virtual ~ExporterView() = default;

  // The exposition text of the last complete snapshot; never null. The
  // same pointer until the text changes (the router caches by it).
  virtual std::shared_ptr<const std::string> Exposition() const = 0;
  // True once the first snapshot is complete (/-/ready).
  virtual bool Ready() const = 0;
  // The JSON document GET /diagnose serves, built from the current state.
  virtual std::string DiagnoseJson() const = 0;
  // The JSON document GET /diagnose/growth serves (diagnose/growth.h);
  // empty: the view keeps no growth history (404).
  virtual std::string GrowthJson() const { return ""; }
};

// A view with a fixed exposition and diagnosis, for tests and the fuzz
// harness. Readiness can be flipped from any thread.
class FixedView final : public ExporterView {
 public:
  explicit FixedView(std::string exposition, bool ready = true,
                     std::string diagnose_json = "{}")
      : exposition_(std::make_shared<const std::string>(std::move(exposition))),
        diagnose_json_(std::move(diagnose_json)),
        ready_(ready) {}

  std::shared_ptr<const std::string> Exposition() const override {
    return exposition_;
  }
  bool Ready() const override { return ready_.load(); }
  std::string DiagnoseJson() const override { return diagnose_json_; }

  void SetReady(bool ready) { ready_.store(ready); }

 private:
  const std::shared_ptr<const std::string> exposition_;
  const std::string diagnose_json_;
  std::atomic<bool> ready_;
};

}  // namespace stemedb::exporter
