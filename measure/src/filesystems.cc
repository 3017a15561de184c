#include "stemedb/measure/filesystems.h"

#include <sys/statvfs.h>
#include <sys/sysmacros.h>

#include <charconv>
#include <condition_variable>
#include <fstream>
#include <functional>
#include <sstream>
#include <system_error>
#include <thread>
#include <tuple>
#include <utility>

#include "stemedb/base/paths.h"
#include "stemedb/config/config.h"

namespace stemedb::measure {
namespace {

// mountinfo escapes space, tab, newline and backslash as \ooo octal.
std::string Unescape(std::string_view field) {
  std::string out;
  out.reserve(field.size());
  for (size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size()) {
      const char a = field[i + 1], b = field[i + 2], c = field[i + 3];
      if (a >= '0' && a <= '3' && b >= '0' && b <= '7' && c >= '0' &&
          c <= '7') {
        out += static_cast<char>((a - '0') * 64 + (b - '0') * 8 + (c - '0'));
        i += 3;
        continue;
      }
    }
    out += field[i];
  }
  return out;
}

std::vector<std::string_view> SplitSpaces(std::string_view line) {
  std::vector<std::string_view> fields;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && line[i] == ' ') ++i;
    size_t start = i;
    while (i < line.size() && line[i] != ' ') ++i;
    if (i > start) fields.push_back(line.substr(start, i - start));
  }
  return fields;
}

template <typename T>
bool ParseNumber(std::string_view text, T* out) {
  auto [ptr, ec] =
      std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && ptr == text.data() + text.size();
}

bool HasOption(std::string_view options, std::string_view wanted) {
  size_t i = 0;
  while (i <= options.size()) {
    size_t comma = options.find(',', i);
    if (comma == std::string_view::npos) comma = options.size();
    if (options.substr(i, comma - i) == wanted) return true;
    i = comma + 1;
  }
  return false;
}

}  // namespace

std::vector<Mount> ParseMountInfo(std::string_view text) {
  std::vector<Mount> mounts;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    start = end + 1;

    // id parent major:minor root mountpoint options [optional...] - fstype
    // source superoptions
    std::vector<std::string_view> f = SplitSpaces(line);
    if (f.size() < 9) continue;
    size_t dash = 6;
    while (dash < f.size() && f[dash] != "-") ++dash;
    if (dash + 2 >= f.size()) continue;  // needs fstype and source after "-"

    std::string_view dev = f[2];
    size_t colon = dev.find(':');
    unsigned major = 0, minor = 0;
    if (colon == std::string_view::npos ||
        !ParseNumber(dev.substr(0, colon), &major) ||
        !ParseNumber(dev.substr(colon + 1), &minor)) {
      continue;
    }
    Mount m;
    m.device_id = makedev(major, minor);
    m.root = Unescape(f[3]);
    m.mountpoint = Unescape(f[4]);
    // The superblock's options, not this mount's: a read-only view of a
    // writable filesystem (a ro bind mount, systemd's ProtectSystem, a
    // Kubernetes readOnly volume) is still filling up and must still alert.
    m.readonly = dash + 3 < f.size() && HasOption(f[dash + 3], "ro");
    m.fstype = Unescape(f[dash + 1]);
    m.device = Unescape(f[dash + 2]);
    mounts.push_back(std::move(m));
  }
  return mounts;
}

std::vector<Mount> ReadMountTable() {
  std::ifstream in("/proc/self/mountinfo");
  if (!in) return {};
  std::ostringstream text;
  text << in.rdbuf();
  return ParseMountInfo(text.str());
}

std::optional<Mount> FindMount(const std::vector<Mount>& table,
                               std::string_view path, dev_t device_id) {
  const std::string target = NormalizePath(path);
  const Mount* best_same_device = nullptr;
  const Mount* best_any = nullptr;
  size_t best_same_len = 0, best_any_len = 0;
  for (const Mount& m : table) {
    const std::string mountpoint = NormalizePath(m.mountpoint);
    if (!IsAtOrBelow(target, mountpoint)) continue;
    // ">=": of mounts stacked on one mountpoint, the later one is on top.
    if (best_any == nullptr || mountpoint.size() >= best_any_len) {
      best_any = &m;
      best_any_len = mountpoint.size();
    }
    if (m.device_id == device_id &&
        (best_same_device == nullptr || mountpoint.size() >= best_same_len)) {
      best_same_device = &m;
      best_same_len = mountpoint.size();
    }
  }
  if (best_same_device != nullptr) return *best_same_device;
  if (best_any != nullptr) return *best_any;
  return std::nullopt;
}

std::vector<Mount> MountsBelow(const std::vector<Mount>& table,
                               std::string_view path) {
  const std::string base = NormalizePath(path);
  std::vector<Mount> below;
  for (const Mount& m : table) {
    const std::string mountpoint = NormalizePath(m.mountpoint);
    if (mountpoint != base && IsAtOrBelow(mountpoint, base)) below.push_back(m);
  }
  return below;
}

MountChoice ChooseMounts(const std::vector<Mount>& table,
                         const std::vector<MountWant>& wants,
                         bool one_filesystem) {
  MountChoice choice;
  auto better = [](const Mount& a, const Mount& b) {
    return std::make_tuple(a.root != "/", a.mountpoint.size(), a.mountpoint) <
           std::make_tuple(b.root != "/", b.mountpoint.size(), b.mountpoint);
  };
  auto note = [&](const std::string& component, Mount mount, bool link) {
    // The owning mount of this device may be elsewhere in the table (the
    // component sits under a bind mount): consider every mount of it.
    for (const auto& m : table) {
      if (m.device_id == mount.device_id && better(m, mount)) mount = m;
    }
    auto [it, inserted] = choice.by_device.emplace(mount.device_id, mount);
    if (!inserted && better(mount, it->second)) it->second = mount;
    if (link) choice.component_devices.emplace_back(component, mount.device_id);
  };
  for (const auto& w : wants) {
    if (w.missing) continue;
    auto mount = FindMount(table, w.path, w.device);
    if (w.device != 0 && (!mount || mount->device_id != w.device)) {
      // The path goes through a symlink to another filesystem: trust the
      // device the walk saw over the path's spelling.
      for (const auto& m : table) {
        if (m.device_id == w.device) {
          mount = m;
          break;
        }
      }
    }
    if (mount) note(w.component, *mount, /*link=*/true);
    if (!one_filesystem) {
      for (auto& below : MountsBelow(table, w.path)) {
        note(w.component, below, /*link=*/false);
      }
    }
  }
  return choice;
}

// State shared with the probe threads; outlives the prober while a probe is
// stuck in the kernel.
struct CapacityProber::Shared {
  struct Probe {
    bool done = false;  // guarded by Shared::mu
    bool ok = false;
    Capacity capacity;
  };
  explicit Shared(CapacityProberOptions o) : options(std::move(o)) {}
  const CapacityProberOptions options;  // read-only, so not guarded
  mutable std::mutex mu;
  std::condition_variable cv;
  std::map<std::string, std::shared_ptr<Probe>> in_flight;  // guarded by mu
};

CapacityProber::CapacityProber(CapacityProberOptions options)
    : shared_(std::make_shared<Shared>(std::move(options))) {}
CapacityProber::~CapacityProber() = default;

std::optional<Capacity> CapacityProber::Probe(
    const std::string& mountpoint, std::chrono::milliseconds timeout) {
  auto probe = std::make_shared<Shared::Probe>();
  std::unique_lock lock(shared_->mu);
  if (shared_->in_flight.count(mountpoint) != 0) return std::nullopt;
  shared_->in_flight.emplace(mountpoint, probe);

  StatvfsFunction fn = shared_->options.statvfs_function;
  if (fn == nullptr) fn = &::statvfs;
  try {
    std::thread([shared = shared_, probe, mountpoint, fn] {
      struct statvfs st {};
      const bool ok = fn(mountpoint.c_str(), &st) == 0;
      {
        std::lock_guard done_lock(shared->mu);
        probe->done = true;
        probe->ok = ok;
        if (ok) {
          Capacity& c = probe->capacity;
          c.size_bytes = static_cast<uint64_t>(st.f_blocks) * st.f_frsize;
          c.free_bytes = static_cast<uint64_t>(st.f_bfree) * st.f_frsize;
          c.avail_bytes = static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
          c.files = st.f_files;
          c.files_free = st.f_ffree;
          c.readonly = (st.f_flag & ST_RDONLY) != 0;
        }
        shared->in_flight.erase(mountpoint);
      }
      shared->cv.notify_all();
      if (shared->options.probe_finished) {
        shared->options.probe_finished(mountpoint);
      }
    }).detach();
  } catch (const std::system_error&) {
    shared_->in_flight.erase(mountpoint);
    return std::nullopt;
  }

  // wait_for would add the timeout to now() and wrap for one near
  // Prometheus' maximum (292y), giving up at once.
  const auto give_up = SaturatingAdd(std::chrono::steady_clock::now(), timeout);
  if (!shared_->cv.wait_until(lock, give_up, [&] { return probe->done; })) {
    return std::nullopt;
  }
  if (!probe->ok) return std::nullopt;
  return probe->capacity;
}

int CapacityProber::InFlight() const {
  std::lock_guard lock(shared_->mu);
  return static_cast<int>(shared_->in_flight.size());
}

}  // namespace stemedb::measure
