#include "stemedb/measure/walk.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "open_dir.h"
#include "stemedb/base/fd.h"
#include "stemedb/base/paths.h"
#include "stemedb/base/time.h"

namespace stemedb::measure {

using detail::OpenDir;

std::string_view ReasonName(ErrorReason reason) {
  switch (reason) {
    case ErrorReason::kPermission:
      return "permission";
    case ErrorReason::kVanished:
      return "vanished";
    case ErrorReason::kLoop:
      return "loop";
    case ErrorReason::kTimeout:
      return "timeout";
    case ErrorReason::kOther:
      return "other";
  }
  return "other";
}

namespace {

// How often the deadline and cancel flag are checked inside one directory, so
// a huge flat directory cannot overrun the deadline by much.
constexpr int kEntriesPerStopCheck = 4096;

// Layout of struct linux_dirent64 (getdents64(2)). Parsed by offset because
// its trailing flexible array member is not standard C++.
constexpr size_t kDirentReclenOffset = 16;
constexpr size_t kDirentNameOffset = 19;

// Past the budget of held directory descriptors, a subdirectory is opened by
// a relative path of at most this many components (see List).
constexpr int kMaxRelativeDepth = 32;

ErrorReason Classify(int error) {
  switch (error) {
    case EACCES:
    case EPERM:
      return ErrorReason::kPermission;
    case ENOENT:
    case ESTALE:
    case ENOTDIR:  // a directory we listed was replaced by something else
      return ErrorReason::kVanished;
    case ELOOP:  // O_NOFOLLOW met a symlink that replaced a directory
      return ErrorReason::kLoop;
    default:
      return ErrorReason::kOther;
  }
}

}  // namespace

namespace {

// Errors about the walker's own resources, not about an entry: what failed
// was something the walk had to open, so its result is not the truth.
bool IsResourceError(int error) {
  return error == EMFILE || error == ENFILE || error == ENOMEM;
}

// How many directory descriptors the walk may keep open for directories
// whose subdirectories are still queued: a quarter of RLIMIT_NOFILE (the
// rest is the exporter's: sockets, statfs threads, listing), at least 16,
// at most 4096. Beyond it, subdirectories are opened by path below the
// nearest ancestor still held, so descriptor use is bounded by design, not
// by the tree's depth (a comb 3,000 deep used to run out at 1,024): at most
// the budget, plus max_depth / kMaxRelativeDepth (128 at max_depth 4096),
// plus three per thread (the directory listed and two while opening one).
int HeldDirectoryBudget() {
  struct rlimit limit {};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 ||
      limit.rlim_cur == RLIM_INFINITY) {
    return 4096;
  }
  const rlim_t quarter = limit.rlim_cur / 4;
  return static_cast<int>(std::clamp<rlim_t>(quarter, 16, 4096));
}

// Adds a directory's own inode to `totals`.
void CountSelf(const struct stat& st, bool in_segment,
               DirectoryTotals* totals) {
  const uint64_t allocated = static_cast<uint64_t>(st.st_blocks) * 512;
  totals->allocated_bytes += allocated;
  totals->apparent_bytes += static_cast<uint64_t>(st.st_size);
  totals->directories += 1;
  if (in_segment) totals->segment_allocated_bytes += allocated;
}

struct ComponentState {
  const ComponentSpec* spec = nullptr;
  std::optional<Pattern> segments;  // the spec's, compiled once
  dev_t device = 0;
  // Directories queued or being listed; 0 means this component is done.
  std::atomic<int64_t> pending{0};
  // Written by the one thread that brings `pending` to 0; read after join.
  std::chrono::steady_clock::time_point finished{};
  // The component directory exists but cannot be opened: nothing below it
  // is known, so the walk is not complete. Set before workers start.
  bool unreadable = false;
  // A directory below could not be opened for lack of descriptors or
  // memory: its subtree is missing from the totals.
  std::atomic<bool> starved{false};
  LinkSet links;
};

// What one worker has gathered for one component; merged after the walk so
// the hot path touches no shared counters.
struct WorkerShare {
  DirectoryTotals totals;
  std::vector<DirectoryRecord> records;        // with record_directories
  std::unique_ptr<EntryAggregate> aggregate;   // with make_aggregate
  std::vector<std::string> unaccounted_paths;  // bounded
};

struct WorkItem {
  Fd open_dir;  // set for component roots only
  // Otherwise: opened at path[rel_offset..] below this ancestor, usually the
  // parent; a farther one when the walk holds its budget of descriptors.
  std::shared_ptr<const Fd> anchor;
  std::string path;       // full path, for the test hook
  size_t rel_offset = 0;  // where the part relative to `anchor` starts
  int rel_depth = 1;      // path components in that relative part
  int component = 0;
  int depth = 0;            // the component directory is depth 0
  bool in_segment = false;  // (below) a directory segment: bytes count to it
  struct stat self {};      // its lstat, taken when its parent was listed
};

class Walk {
 public:
  Walk(const std::vector<ComponentSpec>& specs, const WalkOptions& options)
      : options_(options), components_(specs.size()) {
    for (size_t i = 0; i < specs.size(); ++i) {
      components_[i].spec = &specs[i];
      components_[i].segments = SegmentGlob(specs[i]);
    }
  }

  std::vector<ComponentStats> Run();

 private:
  void Worker(std::vector<WorkerShare>* shares);
  bool Next(WorkItem* item);
  void Push(std::vector<WorkItem>* items);
  void Finish(int component);
  bool ShouldStop();
  void RequestStop();
  // False when abandoned because the walk is stopping.
  bool List(WorkItem& item, WorkerShare& share, char* buffer,
            std::vector<WorkItem>* children, bool* noatime_ok);
  class Lister;
  // Opens component i's directory: its presence, device and errors into
  // *stats (and *root when it cannot be listed); true when queued in
  // *initial to be walked.
  bool OpenRoot(size_t i, ComponentStats* stats, DirectoryTotals* root,
                std::vector<WorkItem>* initial, bool* noatime_ok);
  // Component i's numbers from the workers' shares, after the walk.
  void Collect(size_t i, const DirectoryTotals& root,
               std::vector<std::vector<WorkerShare>>& per_worker,
               std::chrono::steady_clock::time_point end,
               ComponentStats* stats);

  // Keeps `dir` open for its queued subdirectories, counted in held_.
  std::shared_ptr<const Fd> Hold(Fd dir);

  const WalkOptions& options_;
  const int held_budget_ = HeldDirectoryBudget();
  std::atomic<int> held_{0};  // directory fds kept for queued children
  std::vector<ComponentState> components_;
  std::chrono::steady_clock::time_point start_;

  std::mutex mu_;
  std::condition_variable cv_;
  // LIFO keeps the walk depth-first, so few parent directory fds stay open
  // (and held_budget_ bounds them when the tree is deep and bushy).
  std::vector<WorkItem> stack_;  // guarded by mu_
  int64_t pending_ = 0;          // guarded by mu_; all components
  int idle_ = 0;                 // guarded by mu_
  std::atomic<bool> stop_{false};
  std::atomic<bool> timed_out_{false};
};

std::shared_ptr<const Fd> Walk::Hold(Fd dir) {
  held_.fetch_add(1, std::memory_order_relaxed);
  return std::shared_ptr<const Fd>(new Fd(std::move(dir)), [this](Fd* fd) {
    delete fd;
    held_.fetch_sub(1, std::memory_order_relaxed);
  });
}

void Walk::RequestStop() {
  {
    std::lock_guard lock(mu_);
    stop_.store(true, std::memory_order_relaxed);
  }
  cv_.notify_all();
}

bool Walk::ShouldStop() {
  if (stop_.load(std::memory_order_relaxed)) return true;
  if (options_.cancel != nullptr &&
      options_.cancel->load(std::memory_order_relaxed)) {
    RequestStop();
    return true;
  }
  if (options_.deadline != std::chrono::steady_clock::time_point::max() &&
      std::chrono::steady_clock::now() >= options_.deadline) {
    timed_out_.store(true, std::memory_order_relaxed);
    RequestStop();
    return true;
  }
  return false;
}

bool Walk::Next(WorkItem* item) {
  std::unique_lock lock(mu_);
  for (;;) {
    if (stop_.load(std::memory_order_relaxed)) return false;
    if (!stack_.empty()) {
      *item = std::move(stack_.back());
      stack_.pop_back();
      return true;
    }
    if (pending_ == 0) return false;
    ++idle_;
    cv_.wait(lock);
    --idle_;
  }
}

void Walk::Push(std::vector<WorkItem>* items) {
  for (const WorkItem& item : *items) {
    components_[item.component].pending.fetch_add(1, std::memory_order_relaxed);
  }
  int waiting;
  size_t count = items->size();
  {
    std::lock_guard lock(mu_);
    for (WorkItem& item : *items) stack_.push_back(std::move(item));
    pending_ += static_cast<int64_t>(count);
    waiting = idle_;
  }
  items->clear();
  if (waiting == 0) return;
  if (count == 1) {
    cv_.notify_one();
  } else {
    cv_.notify_all();
  }
}

void Walk::Finish(int component) {
  ComponentState& c = components_[component];
  if (c.pending.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    c.finished = std::chrono::steady_clock::now();
  }
  bool all_done;
  {
    std::lock_guard lock(mu_);
    all_done = --pending_ == 0;
  }
  if (all_done) cv_.notify_all();
}

void Walk::Worker(std::vector<WorkerShare>* shares) {
  // Per thread, not per directory: the listing buffer and the scratch list of
  // subdirectories found in one batch.
  std::unique_ptr<char[]> buffer(new char[kScanBufferBytes]);
  std::vector<WorkItem> children;
  bool noatime_ok = true;
  WorkItem item;
  while (Next(&item)) {
    if (ShouldStop()) break;
    const int component = item.component;
    WorkerShare& share = (*shares)[component];
    if (options_.make_aggregate && !share.aggregate) {
      share.aggregate = options_.make_aggregate(component);
    }
    if (List(item, share, buffer.get(), &children, &noatime_ok)) {
      Finish(component);
    }
    item = WorkItem();  // drop the parent fd before waiting for more work
  }
}

// The walk's side of one ScanDirectory call: queues subdirectories, each
// opened below this directory (held open for them while the budget allows)
// or below a farther ancestor.
class Walk::Lister : public DirectoryVisitor {
 public:
  Lister(Walk& walk, WorkItem& item, Fd& dir,
         const std::shared_ptr<const Fd>& anchor,
         std::vector<WorkItem>* children)
      : walk_(walk),
        item_(item),
        dir_(dir),
        anchor_(anchor),
        children_(children),
        may_descend_(item.depth < walk.options_.max_depth) {}

  bool ShouldStop() override { return walk_.ShouldStop(); }
  void OutOfResources() override {
    walk_.components_[item_.component].starved.store(true,
                                                     std::memory_order_relaxed);
  }

  bool Subdirectory(std::string_view name, const struct stat& st,
                    bool is_segment) override {
    if (!may_descend_) return false;
    if (Skipped(name)) return true;  // walked by another spec
    if (!child_anchor_) {
      // Set at the first subdirectory, so leaf directories (most of them)
      // cost nothing. Past the budget, every kMaxRelativeDepth levels a
      // directory is held anyway, so that opening by relative path stays
      // O(depth) rather than O(depth^2): at most max_depth /
      // kMaxRelativeDepth descriptors beyond the budget.
      if (!anchor_ || item_.rel_depth >= kMaxRelativeDepth ||
          walk_.held_.load(std::memory_order_relaxed) < walk_.held_budget_) {
        child_anchor_ = walk_.Hold(std::move(dir_));
        child_rel_offset_ = std::string::npos;
        child_rel_depth_ = 1;
      } else {
        child_anchor_ = anchor_;
        child_rel_offset_ = item_.rel_offset;
        child_rel_depth_ = item_.rel_depth + 1;
      }
    }
    WorkItem& child = children_->emplace_back();
    child.anchor = child_anchor_;
    child.path = Join(item_.path, name);
    child.rel_offset = child_rel_offset_ == std::string::npos
                           ? child.path.size() - name.size()
                           : child_rel_offset_;
    child.rel_depth = child_rel_depth_;
    child.component = item_.component;
    child.depth = item_.depth + 1;
    child.in_segment = item_.in_segment || is_segment;
    child.self = st;
    return true;
  }

  void BatchDone() override {
    if (!children_->empty()) walk_.Push(children_);
  }

 private:
  bool Skipped(std::string_view name) const {
    const std::vector<std::string>& skip =
        walk_.components_[item_.component].spec->skip;
    if (skip.empty()) return false;
    return std::find(skip.begin(), skip.end(), Join(item_.path, name)) !=
           skip.end();
  }

  Walk& walk_;
  WorkItem& item_;
  Fd& dir_;
  const std::shared_ptr<const Fd>& anchor_;
  std::vector<WorkItem>* children_;
  const bool may_descend_;
  std::shared_ptr<const Fd> child_anchor_;
  size_t child_rel_offset_ = 0;  // in the children's paths; npos: their name
  int child_rel_depth_ = 1;
};

bool Walk::List(WorkItem& item, WorkerShare& share, char* buffer,
                std::vector<WorkItem>* children, bool* noatime_ok) {
  ComponentState& component = components_[item.component];
  DirectoryTotals direct;
  std::vector<LinkedEntry> linked;
  int64_t tag = -1;
  std::shared_ptr<EntryAggregate> own_aggregate;
  Fd dir = std::move(item.open_dir);
  // Kept while listing: subdirectories found when the budget of held
  // descriptors is spent are opened below it.
  const std::shared_ptr<const Fd> anchor = std::move(item.anchor);
  bool finished = true;
  if (!dir.valid()) {
    const std::string_view rel =
        std::string_view(item.path).substr(item.rel_offset);
    dir = OpenDir(anchor->get(), rel,
                  {.component_wise = true, .noatime_ok = noatime_ok});
  }
  if (!dir.valid()) {
    if (IsResourceError(errno)) {
      component.starved.store(true, std::memory_order_relaxed);
    }
    // Its inode was seen when its parent was listed; only its contents are
    // unknown.
    CountSelf(item.self, item.in_segment, &direct);
    direct.Error(Classify(errno));
  } else {
    DirectoryScan scan;
    scan.fd = dir.get();
    scan.path = item.path;
    scan.self = &item.self;
    scan.component = item.component;
    scan.depth = item.depth;
    scan.in_segment = item.in_segment;
    if (item.depth == 0 && component.segments) {
      scan.segments = &*component.segments;
    }
    scan.one_filesystem = options_.one_filesystem;
    scan.device = component.device;
    // With collect_links the set only decides which name an aggregate
    // counts; the bytes are the caller's.
    scan.links = &component.links;
    if (options_.collect_links) scan.linked = &linked;
    scan.aggregate = share.aggregate.get();
    scan.hooks = &options_.hooks;
    if (options_.per_directory_aggregates && options_.make_aggregate) {
      own_aggregate = options_.make_aggregate(item.component);
      scan.aggregate = own_aggregate.get();
    }
    if (options_.on_directory) {
      tag = options_.on_directory(dir.get(), item.path);
    }
    Lister lister(*this, item, dir, anchor, children);
    finished = ScanDirectory(scan, lister, buffer, kScanBufferBytes, &direct);
    children->clear();  // abandoned: not queued
  }
  share.totals.Merge(direct);
  if (LeavesOut(direct.errors)) {
    AddUnaccountedPath(item.path, &share.unaccounted_paths);
  }
  if (options_.record_directories) {
    DirectoryRecord& record = share.records.emplace_back();
    record.path = std::move(item.path);
    record.depth = item.depth;
    record.inode = item.self.st_ino;
    record.direct = direct;
    record.linked = std::move(linked);
    record.tag = tag;
    record.aggregate = std::move(own_aggregate);
  }
  return finished;
}

bool Walk::OpenRoot(size_t i, ComponentStats* stats, DirectoryTotals* root,
                    std::vector<WorkItem>* initial, bool* noatime_ok) {
  const ComponentSpec& spec = *components_[i].spec;
  stats->name = spec.name;
  stats->has_segments = !spec.segment_pattern.empty();
  std::string path = NormalizePath(spec.path);

  // The component path itself may be a symlink (a WAL moved to another
  // disk): it is resolved like any configured path; nothing below it is.
  // Watch mode walks new subdirectories as roots, at any depth.
  Fd dir = OpenDir(AT_FDCWD, path, {.follow = true, .noatime_ok = noatime_ok});
  int open_error = dir.valid() ? 0 : errno;
  struct stat st;
  int rc = dir.valid() ? fstat(dir.get(), &st) : stat(path.c_str(), &st);
  const int stat_error = rc == 0 ? 0 : errno;
  if (rc != 0 || !S_ISDIR(st.st_mode)) {
    stats->present = false;
    if (stat_error == 0 || stat_error == ENOENT || stat_error == ENOTDIR) {
      stats->complete = true;  // missing: nothing to walk, the result is exact
      return false;
    }
    // Whether it exists is unknown: a parent is unreadable (chmod 000 on
    // the root), a symlink loop, an I/O error. Not "missing": an
    // incomplete walk, with its reason counted.
    stats->complete = false;
    ++stats->errors[static_cast<int>(Classify(stat_error))];
    return false;
  }
  stats->present = true;
  stats->device = st.st_dev;
  components_[i].device = st.st_dev;
  if (!dir.valid()) {
    CountSelf(st, /*in_segment=*/false, root);
    root->Error(Classify(open_error));
    components_[i].unreadable = true;
    return false;
  }
  WorkItem& item = initial->emplace_back();
  item.open_dir = std::move(dir);
  item.path = std::move(path);
  item.component = static_cast<int>(i);
  item.self = st;
  return true;
}

void Walk::Collect(size_t i, const DirectoryTotals& root,
                   std::vector<std::vector<WorkerShare>>& per_worker,
                   std::chrono::steady_clock::time_point end,
                   ComponentStats* stats) {
  DirectoryTotals t = root;
  std::vector<DirectoryRecord> records;
  std::unique_ptr<EntryAggregate> aggregate;
  for (std::vector<WorkerShare>& worker : per_worker) {
    WorkerShare& share = worker[i];
    t.Merge(share.totals);
    std::move(share.records.begin(), share.records.end(),
              std::back_inserter(records));
    for (const std::string& p : share.unaccounted_paths) {
      AddUnaccountedPath(p, &stats->unaccounted_paths);
    }
    if (!share.aggregate) continue;
    if (aggregate) {
      aggregate->Merge(*share.aggregate);
    } else {
      aggregate = std::move(share.aggregate);
    }
  }
  const ComponentState& c = components_[i];
  const bool walked = c.pending.load(std::memory_order_acquire) == 0;
  stats->complete =
      walked && !c.unreadable && !c.starved.load(std::memory_order_relaxed);
  if (!walked && timed_out_.load(std::memory_order_relaxed)) {
    t.Error(ErrorReason::kTimeout);
  }
  SetTotals(t, stats);
  if (c.unreadable) AddUnaccountedPath(c.spec->path, &stats->unaccounted_paths);
  std::sort(stats->unaccounted_paths.begin(), stats->unaccounted_paths.end());
  if (options_.record_directories) {
    std::sort(records.begin(), records.end(),
              [](const DirectoryRecord& a, const DirectoryRecord& b) {
                return a.path < b.path;
              });
    ComputeCumulative(&records);
    stats->directory_list =
        std::make_shared<const std::vector<DirectoryRecord>>(
            std::move(records));
  }
  if (!aggregate && options_.make_aggregate) {
    aggregate = options_.make_aggregate(static_cast<int>(i));
  }
  stats->aggregate = std::move(aggregate);
  const auto finished =
      stats->complete && c.finished != std::chrono::steady_clock::time_point{}
          ? c.finished
          : end;
  stats->duration_seconds =
      std::chrono::duration<double>(finished - start_).count();
}

std::vector<ComponentStats> Walk::Run() {
  start_ = std::chrono::steady_clock::now();
  const size_t n = components_.size();
  std::vector<ComponentStats> out(n);
  // The component directories are opened here so presence and the device are
  // known before any worker compares st_dev against it.
  std::vector<DirectoryTotals> roots(n);
  std::vector<WorkItem> initial;
  bool noatime_ok = true;
  for (size_t i = 0; i < n; ++i) {
    OpenRoot(i, &out[i], &roots[i], &initial, &noatime_ok);
  }
  if (!initial.empty()) Push(&initial);

  const int threads = options_.threads < 1 ? 1 : options_.threads;
  std::vector<std::vector<WorkerShare>> per_worker(threads);
  for (auto& shares : per_worker) shares.resize(n);
  if (!ShouldStop()) {
    std::vector<std::thread> helpers;
    for (int w = 1; w < threads; ++w) {
      try {
        helpers.emplace_back(&Walk::Worker, this, &per_worker[w]);
      } catch (const std::system_error&) {
        break;  // fewer threads is slower, not wrong
      }
    }
    Worker(&per_worker[0]);
    for (std::thread& helper : helpers) helper.join();
  }
  const auto end = std::chrono::steady_clock::now();
  {
    // Unvisited items hold directory fds; close them now.
    std::lock_guard lock(mu_);
    stack_.clear();
  }
  for (size_t i = 0; i < n; ++i) {
    if (out[i].present) Collect(i, roots[i], per_worker, end, &out[i]);
  }
  return out;
}

}  // namespace

std::optional<Pattern> SegmentGlob(const ComponentSpec& spec) {
  if (spec.segment_pattern.empty()) return std::nullopt;
  PatternError error;
  return Pattern::Glob(spec.segment_pattern, &error);
}

namespace {

// Counts the non-directory entry `name` (lstat `st`) into *t, or hands it to
// the caller as a hard link; info->counted says whether an aggregate counts
// its bytes.
void CountFile(const DirectoryScan& scan, const struct stat& st,
               const char* name, bool is_segment, DirectoryTotals* t,
               EntryInfo* info) {
  ++t->files;
  const uint64_t allocated = static_cast<uint64_t>(st.st_blocks) * 512;
  if (st.st_nlink > 1 && scan.linked != nullptr) {
    // The caller counts hard-linked inodes' bytes itself; the
    // aggregate's `counted` is decided as the caller says.
    scan.linked->push_back({st.st_dev, st.st_ino, allocated,
                            static_cast<uint64_t>(st.st_size),
                            scan.in_segment || is_segment, name, st.st_nlink});
    info->counted = scan.count_linked
                        ? scan.count_linked(st.st_dev, st.st_ino)
                        : scan.links != nullptr &&
                              scan.links->FirstSighting(st.st_dev, st.st_ino);
  } else if (st.st_nlink > 1 && scan.links == nullptr) {
    info->counted = false;
  } else if (st.st_nlink > 1 &&
             !scan.links->FirstSighting(st.st_dev, st.st_ino)) {
    info->counted = false;  // like du: several names, counted once
  } else {
    t->allocated_bytes += allocated;
    t->apparent_bytes += static_cast<uint64_t>(st.st_size);
    if (is_segment || scan.in_segment) {
      t->segment_allocated_bytes += allocated;
    }
  }
}

}  // namespace

bool ScanDirectory(const DirectoryScan& scan, DirectoryVisitor& visitor,
                   char* buffer, size_t buffer_size, DirectoryTotals* totals) {
  DirectoryTotals& t = *totals;
  if (scan.self != nullptr) CountSelf(*scan.self, scan.in_segment, &t);
  int until_stop_check = kEntriesPerStopCheck;
  EntryInfo info;
  info.component = scan.component;
  info.directory = scan.path;
  info.depth = scan.depth;
  info.in_segment = scan.in_segment;

  for (;;) {
    long got = syscall(SYS_getdents64, scan.fd, buffer, buffer_size);
    if (got == 0) break;
    if (got < 0) {
      if (errno == EINTR) continue;
      t.Error(Classify(errno));
      break;
    }
    if (scan.hooks != nullptr && scan.hooks->after_read_dir) {
      scan.hooks->after_read_dir(scan.path);
    }

    for (long offset = 0; offset < got;) {
      const char* entry = buffer + offset;
      unsigned short reclen;
      std::memcpy(&reclen, entry + kDirentReclenOffset, sizeof reclen);
      offset += reclen;
      const char* name = entry + kDirentNameOffset;
      if (name[0] == '.' &&
          (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'))) {
        continue;
      }
      if (--until_stop_check == 0) {
        until_stop_check = kEntriesPerStopCheck;
        if (visitor.ShouldStop()) return false;
      }
      // d_type cannot spare the stat (blocks and size are needed for every
      // entry), so the stat is the one source of truth, DT_UNKNOWN or not.
      struct stat st;
      if (fstatat(scan.fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (IsResourceError(errno)) visitor.OutOfResources();
        t.Error(Classify(errno));
        continue;
      }
      // Like du -x: an entry on another device (a mount point, or a file
      // bind-mounted over) is left out altogether, its own inode included.
      if (scan.one_filesystem && st.st_dev != scan.device) continue;
      const bool is_dir = S_ISDIR(st.st_mode);
      const bool is_segment = scan.segments != nullptr &&
                              (is_dir || S_ISREG(st.st_mode)) &&
                              scan.segments->Matches(name);
      if (is_segment) t.Segment(Seconds(st.st_mtim));
      info.name = name;
      info.st = &st;
      info.is_segment = is_segment;
      info.counted = true;
      if (is_dir) {
        ++t.subdirectories;
        if (!visitor.Subdirectory(name, st, is_segment)) {
          t.Error(ErrorReason::kLoop);
          CountSelf(st, scan.in_segment || is_segment, &t);
        }
        if (scan.aggregate != nullptr) scan.aggregate->Add(info);
        continue;
      }
      CountFile(scan, st, name, is_segment, &t, &info);
      if (scan.aggregate != nullptr) scan.aggregate->Add(info);
    }
    visitor.BatchDone();
  }
  return true;
}

std::vector<ComponentStats> ScanComponents(
    const std::vector<ComponentSpec>& components, const WalkOptions& options) {
  Walk walk(components, options);
  return walk.Run();
}

}  // namespace stemedb::measure
