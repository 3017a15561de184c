"""Helpers for the watch-mode tests: the truth, the modes, waits.

The truth of a component is computed the way the metric contract defines
the metrics, by tools independent of the exporter:

  allocated bytes   du -s -x --block-size=1 DIR
  apparent bytes    du -s -x -b DIR
                    (one du per component: the exporter counts a hard-linked
                    inode once per component, so a link across two
                    components counts in both, as two du runs count it)
  files             find DIR -xdev -mindepth 1 ! -type d   (every name)
  directories       find DIR -xdev -type d                 (DIR included)
  segments          find DIR -mindepth 1 -maxdepth 1 -name PATTERN
                    \\( -type f -o -type d \\): count, min and max of %T@
  segment bytes     du -s -x -c --block-size=1 SEGMENT...  (total line)

Segment bytes have one case the definition leaves open: an inode with one
name inside a segment and another outside it, in the same component, counts
once, toward whichever name the walk meets first. For such inodes (found by
lstat) the check accepts any value between "none of them" and "all of them"
and says so; everywhere else it is exact.
"""
import os
import subprocess
import tempfile

import e2e_lib as e2e

COMPONENT_METRICS = (
    ("allocated", "stemedb_disk_component_allocated_bytes"),
    ("apparent", "stemedb_disk_component_apparent_bytes"),
    ("files", "stemedb_disk_component_files"),
    ("directories", "stemedb_disk_component_directories"),
)
SEGMENT_METRICS = (
    ("segments", "stemedb_disk_segments"),
    ("oldest", "stemedb_disk_oldest_segment_timestamp_seconds"),
    ("newest", "stemedb_disk_newest_segment_timestamp_seconds"),
)
SEGMENT_BYTES = "stemedb_disk_segment_allocated_bytes"
RECONCILES = "stemedb_disk_watch_reconciles_total"
DIFF_BYTES = "stemedb_disk_watch_reconcile_difference_bytes"
DIFF_ENTRIES = "stemedb_disk_watch_reconcile_difference_entries"
REWALKS = "stemedb_disk_watch_rewalks_total"
SCAN_MODE = "stemedb_disk_scan_mode"
EVENTS = "stemedb_disk_watch_events_total"
WATCHES = "stemedb_disk_watch_directories"
LAST_SUCCESS = "stemedb_disk_last_scan_success_timestamp_seconds"

# mtimes are exported as float seconds; a double holds ~0.25 us at 1.8e9 s.
MTIME_TOLERANCE = 2e-6


def disk_workdir(prefix):
    """A temporary directory on the disk that holds the build tree.

    The mutation test must run on a real disk filesystem (ext4/xfs: delayed
    allocation, extent blocks, directories that never shrink), never on a
    tmpfs /tmp: next to the exporter binary, i.e. in the build directory.
    """
    build = os.path.dirname(os.path.dirname(os.path.abspath(
        e2e.exporter_binary())))
    base = os.path.join(build, "e2e-tmp")
    os.makedirs(base, exist_ok=True)
    return tempfile.TemporaryDirectory(prefix=prefix, dir=base)


# ---------------------------------------------------------------- truth


def _run(argv):
    return subprocess.run(argv, check=True, capture_output=True).stdout


def _du(paths, *flags):
    """du's total over `paths` (names on stdin: a WAL has 50,000 of them)."""
    if not paths:
        return 0
    out = subprocess.run(
        ["du", "-s", "-x", "-c"] + list(flags) + ["--files0-from=-"],
        input=b"".join(os.fsencode(p) + b"\0" for p in paths), check=True,
        capture_output=True).stdout
    last = out.decode().strip().splitlines()[-1]
    assert last.endswith("total"), last
    return int(last.split()[0])


def _find_count(path, *expr):
    out = _run(["find", path, "-xdev"] + list(expr) + ["-print0"])
    return out.count(b"\0")


def _segments(path, pattern):
    """[(mtime seconds as find prints it, path)] of the segments of `path`."""
    out = _run(["find", path, "-mindepth", "1", "-maxdepth", "1", "-name",
                pattern, "(", "-type", "f", "-o", "-type", "d", ")",
                "-printf", r"%T@ %p\0"])
    result = []
    for item in out.split(b"\0"):
        if item:
            mtime, p = item.split(b" ", 1)
            result.append((float(mtime), os.fsdecode(p)))
    return result


def _ambiguous_segment_bytes(path, segment_paths):
    """Allocated bytes of inodes named both inside and outside a segment
    (find lists every non-directory with more than one name)."""
    segs = set(os.fsencode(p) for p in segment_paths)
    top = os.fsencode(path).rstrip(b"/") + b"/"
    out = _run(["find", path, "-xdev", "!", "-type", "d", "-links", "+1",
                "-printf", r"%D %i %b %p\0"])
    seen = {}  # (dev, ino) -> [in a segment, outside, allocated bytes]
    for item in out.split(b"\0"):
        if not item:
            continue
        dev, ino, blocks, p = item.split(b" ", 3)
        first = top + p[len(top):].split(b"/", 1)[0]
        rec = seen.setdefault((dev, ino), [False, False, int(blocks) * 512])
        rec[0 if first in segs else 1] = True
    return sum(b for i, o, b in seen.values() if i and o)


def component_truth(path, pattern=None):
    """The truth of one component directory (see the module docstring)."""
    t = {
        "allocated": _du([path], "--block-size=1"),
        "apparent": _du([path], "-b"),
        "files": _find_count(path, "-mindepth", "1", "!", "-type", "d"),
        "directories": _find_count(path, "-type", "d"),
    }
    if pattern:
        segs = _segments(path, pattern)
        paths = [p for _, p in segs]
        t["segments"] = len(segs)
        t["oldest"] = min(m for m, _ in segs) if segs else None
        t["newest"] = max(m for m, _ in segs) if segs else None
        t["segment_bytes"] = _du(paths, "--block-size=1")
        t["segment_bytes_ambiguous"] = _ambiguous_segment_bytes(path, paths)
    return t


def truth(components):
    """{component: truth} for {component: (path, segment pattern or None)}."""
    return {c: component_truth(p, pat) for c, (p, pat) in components.items()}


def mismatches(metrics, want):
    """Every difference between a scrape and the truth, as text lines."""
    out = []
    for comp, t in sorted(want.items()):
        for key, name in COMPONENT_METRICS:
            got = metrics.value(name, component=comp)
            if got != t[key]:
                out.append("%s{component=%s}: exporter %r, truth %r" %
                           (name, comp, got, t[key]))
        if "segments" not in t:
            continue
        for key, name in SEGMENT_METRICS:
            got = metrics.value(name, component=comp)
            exp = t[key]
            if exp is None or got is None or key == "segments":
                ok = got == exp
            else:
                ok = abs(got - exp) <= MTIME_TOLERANCE
            if not ok:
                out.append("%s{component=%s}: exporter %r, truth %r" %
                           (name, comp, got, exp))
        got = metrics.value(SEGMENT_BYTES, component=comp)
        hi = t["segment_bytes"]
        lo = hi - t["segment_bytes_ambiguous"]
        if got is None or not lo <= got <= hi:
            out.append("%s{component=%s}: exporter %r, truth %s" %
                       (SEGMENT_BYTES, comp, got,
                        hi if lo == hi else "in [%d, %d] (%d bytes named "
                        "inside and outside a segment)" % (lo, hi, hi - lo)))
    return out


# ---------------------------------------------------------------- modes


def modes():
    """The scan modes every watch-mode test runs in."""
    return ["walk", "watch"]


def scan_extra(mode, reconcile_interval="2s"):
    """Lines appended to e2e.config_yaml's `scan:` section."""
    if mode == "watch":
        return "  mode: watch\n  reconcile_interval: %s\n" % reconcile_interval
    return "  mode: walk\n"


def mode_of(metrics, component):
    """'watch' or 'walk' from stemedb_disk_scan_mode, None when absent."""
    on = [l["mode"] for l, v in metrics.series(SCAN_MODE, component=component)
          if v == 1]
    return on[0] if len(on) == 1 else None


def total(metrics, name):
    """Sum of every series of `name` (None when there is none), whatever
    labels the exporter gives it."""
    values = [v for _, v in metrics.series(name)]
    return sum(values) if values else None


def per_component(metrics, name, components, **labels):
    return {c: metrics.value(name, component=c, **labels) for c in components}


# ---------------------------------------------------------------- waits


def wait_walk_after(exporter, since, timeout=120):
    """Waits until a whole walk has *started* after wall time `since`.

    Walks never overlap and all components share one end timestamp: the
    first walk to end after `since` may have started before it, the next one
    to end started after the first ended.
    """
    def ended_after(t):
        def check():
            m = exporter.scrape()
            values = [v for _, v in m.series(LAST_SUCCESS)]
            return values and min(values) > t and min(values)
        return check
    first = e2e.wait_until(ended_after(since), timeout,
                           "a walk ending after the quiet point")
    return e2e.wait_until(ended_after(first), timeout,
                          "a second walk ending after the quiet point")


def wait_reconciles_after(exporter, components, timeout):
    """Waits until every component has had a reconcile walk that started
    after now: two more accepted reconciles than now (they never overlap).
    Returns the scrape that showed it."""
    start = per_component(exporter.scrape(), RECONCILES, components)
    missing = [c for c, v in start.items() if v is None]
    if missing:
        raise AssertionError("no %s for %s" % (RECONCILES, missing))

    def check():
        m = exporter.scrape()
        now = per_component(m, RECONCILES, components)
        return all(now[c] >= start[c] + 2 for c in components) and m
    return e2e.wait_until(check, timeout,
                          "two more reconciles of every component than %r" %
                          start)
