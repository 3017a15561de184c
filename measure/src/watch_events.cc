#include <sys/inotify.h>
#include <unistd.h>

#include <cstring>

#include "stemedb/base/time.h"
#include "watch_tree.h"

namespace stemedb::measure::detail {

// Reads every queued event; marks directories dirty. False on overflow.
bool WatchTree::ReadEvents() {
  alignas(struct inotify_event) char buf[64 * 1024];
  bool overflow = false;
  events_read_at = WallSeconds();
  for (;;) {
    const ssize_t got = read(inotify_fd, buf, sizeof buf);
    if (got <= 0) break;  // EAGAIN: the queue is empty
    const auto now = Clock::now();
    for (ssize_t off = 0; off < got;) {
      const auto* ev = reinterpret_cast<const struct inotify_event*>(buf + off);
      off += static_cast<ssize_t>(sizeof(struct inotify_event) + ev->len);
      ctx.events.fetch_add(1, std::memory_order_relaxed);
      if (overflow_after >= 0 && overflow_after-- == 0) overflow = true;
      if (ev->mask & IN_Q_OVERFLOW) overflow = true;
      if (overflow) continue;
      auto it = by_wd.find(ev->wd);
      if (it == by_wd.end()) continue;
      const std::string& path = it->second;
      auto node = nodes.find(path);
      if (node == nodes.end()) continue;
      WatchedComponent& comp = components[node->second.component];
      ++comp.heard;
      comp.last_event = now;
      if (ev->mask & (IN_IGNORED | IN_DELETE_SELF)) {
        node->second.deleted = true;
      }
      if (ev->mask & IN_IGNORED) {
        by_wd.erase(it);  // the kernel dropped the watch (deleted)
        node->second.wd = -1;
        ctx.watches.fetch_sub(1, std::memory_order_relaxed);
        if (node->second.depth == 0) {
          // A component directory no longer watched: what is its path now?
          check_roots_now = true;
        } else {
          // Its name may hold a directory again: its parent's reading
          // tells, and walks that one with watches.
          MarkDirty(ParentOf(node->first));
        }
        continue;
      }
      if (node->second.depth == 0 &&
          (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF))) {
        check_roots_now = true;
      }
      std::string target = path;
      if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF)) {
        if (node->second.depth == 0) {
          target = path;  // the component directory itself
        } else {
          target = ParentOf(path);
        }
      }
      constexpr uint32_t kNamed = IN_CREATE | IN_DELETE | IN_MODIFY |
                                  IN_CLOSE_WRITE | IN_ATTRIB | IN_MOVED_FROM |
                                  IN_MOVED_TO;
      const bool by_name = ev->len > 0 && (ev->mask & kNamed) &&
                           !(ev->mask & IN_ISDIR) && target == path;
      const std::string_view name(ev->name,
                                  by_name ? strnlen(ev->name, ev->len) : 0);
      if (by_name) {
        MarkNamed(target, name, ev->mask);
      } else {
        MarkDirty(target);
      }
      auto later = [&](Later& l, Clock::time_point at) {
        l.at = at;
        if (by_name) {
          l.Name(name);
        } else {
          l.whole = true;
        }
      };
      if (ev->mask & (IN_MODIFY | IN_CLOSE_WRITE)) {
        later(quiet[target], now + ctx.options.quiet);
      }
      // Whatever lands here (written, renamed in, linked) may have its
      // blocks allocated at writeback: read it again after the window.
      if (ev->mask & (IN_MODIFY | IN_CLOSE_WRITE | IN_CREATE | IN_MOVED_TO)) {
        later(settling[target], now + settle);
      }
    }
  }
  return !overflow;
}

}  // namespace stemedb::measure::detail
