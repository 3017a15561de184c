#!/usr/bin/env python3
"""Benchmarks watch mode against walk mode, side by side, one run.

On a make-tree.py tree of 1,000,000 files (created under --dir on the real
disk, deleted at the end unless --keep):

  1. First full walk vs `du -s`: wall time of `du -s --block-size=1` and of
     `stemedb_disk_exporter --once` (median of --runs, warm cache), and of
     each running exporter's first walk (its scan_duration_seconds).
  2. Two exporters start on the same tree: watch mode (scan.mode: watch) and
     walk mode (scan.mode: walk, scan.interval 1m).
  3. Freshness on the idle tree: a probe writes a file of known size every
     second into data/db/probe (a directory nothing else touches) and polls
     both exporters' /metrics every --poll seconds until data/db's file
     count and apparent bytes include it: delay from the probe's close() to
     the first /metrics that shows it; p50 and p99 per mode.
  4. Idle cost: --idle-seconds (600) with the tree unchanged and nobody
     scraping; CPU-seconds (utime + stime from /proc/PID/stat, all threads)
     of each exporter, and that as a share of one core.
  5. Busy cost: --busy-seconds (120) while one writer appends 20 MB/s to the
     newest WAL segment, rolling to a new segment at 64 MiB and deleting the
     oldest, and another creates and deletes 100 tmp files a second in
     data/tmp; the probe of step 3 runs all along. CPU share per mode, p99
     freshness, and exactness when it stops: after the writers stop and a
     sync, every component number must equal du and find (the e2e truth,
     tests/e2e/watch_lib.py).
  6. Peak RSS (VmHWM from /proc/PID/status) of both.

Usage: bench/watch.py [--dir /work/tmp] [--files 1000000] [--idle-seconds 600]
       [--busy-seconds 120] [--keep TREE] [--exporter PATH]
Without watch mode in the exporter (config refused), only walk mode runs.
Only loopback is used; the tree must be on a real disk, never a tmpfs /tmp.
"""
import argparse
import multiprocessing
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))

import e2e_lib as e2e  # noqa: E402
import watch_lib as w  # noqa: E402

MB = 1000 * 1000
MiB = 1024 * 1024
CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """utime + stime of every thread of `pid`, from /proc/PID/stat."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # fields 14, 15


def vm_hwm_mib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return None


def pct(values, p):
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100.0 * (len(s) - 1))))]


def timed(cmd):
    start = time.monotonic()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.monotonic() - start


# ---------------------------------------------------------------- load


def wal_writer(wal, stop, rate=20 * MB, segment=64 * MiB, chunk=MiB):
    """Appends `rate` bytes/s to the newest segment; at `segment` bytes
    rolls to a new one and deletes the oldest. Paced by the clock (a load
    generator, not synchronisation)."""
    def segments():
        return sorted(n for n in os.listdir(wal)
                      if n.startswith("segment-") and n.endswith(".log"))
    block = b"w" * chunk
    segs = segments()
    path = os.path.join(wal, segs[-1])
    number = int(segs[-1][len("segment-"):-len(".log")])
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    size = os.fstat(fd).st_size
    start = time.monotonic()
    written = 0
    while not stop.is_set():
        due = start + written / rate
        now = time.monotonic()
        if now < due:
            time.sleep(due - now)
            continue
        os.write(fd, block)
        written += chunk
        size += chunk
        if size >= segment:
            os.close(fd)
            number += 1
            path = os.path.join(wal, "segment-%06d.log" % number)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            size = 0
            oldest = segments()[0]
            os.unlink(os.path.join(wal, oldest))
    os.close(fd)


def tmp_churn(tmp, stop, per_second=100, keep=10):
    """Creates and deletes `per_second` tmp files a second (each lives for
    the next `keep` creations)."""
    start = time.monotonic()
    made = 0
    live = []
    while not stop.is_set():
        due = start + made / per_second
        now = time.monotonic()
        if now < due:
            time.sleep(due - now)
            continue
        p = os.path.join(tmp, "bench-churn-%08d.tmp" % made)
        with open(p, "wb") as f:
            f.write(b"t" * (made % 4096))
        live.append(p)
        made += 1
        if len(live) > keep:
            os.unlink(live.pop(0))
    for p in live:
        os.unlink(p)


# ---------------------------------------------------------------- probes


class Prober:
    """Writes a probe file every `every` seconds into `probe_dir` and finds,
    for each exporter, when its data/db numbers first include it."""

    def __init__(self, tag, probe_dir, exporters, poll, every=1.0):
        self.tag = tag
        self.dir = probe_dir
        self.exporters = exporters  # mode -> Exporter
        self.poll = poll
        self.every = every
        self.count = 0
        self.sizes = []
        self.written = []  # monotonic time of each probe's close()
        self.base = {}
        self.seen = {m: 0 for m in exporters}  # probes seen so far
        self.delays = {m: [] for m in exporters}
        for mode, exp in exporters.items():
            m = exp.scrape()
            self.base[mode] = (m.value("stemedb_disk_component_files",
                                       component="db"),
                               m.value("stemedb_disk_component_apparent_bytes",
                                       component="db"))

    def probe(self):
        size = 1000 + 4096 * (self.count % 7) + self.count
        p = os.path.join(self.dir, "probe-%s-%d-%06d" % (
            self.tag, os.getpid(), self.count))
        with open(p, "xb") as f:
            f.write(b"p" * size)
        self.written.append(time.monotonic())
        self.sizes.append(size)
        self.count += 1

    def check(self):
        for mode, exp in self.exporters.items():
            if self.seen[mode] == self.count:
                continue
            m = exp.scrape()
            now = time.monotonic()
            files = m.value("stemedb_disk_component_files", component="db")
            app = m.value("stemedb_disk_component_apparent_bytes",
                          component="db")
            bf, ba = self.base[mode]
            k = self.seen[mode]
            # data/db changes only by probes: k probes are in when the
            # count and the bytes include them (the directory may grow).
            while k < self.count and files >= bf + k + 1 and \
                    app >= ba + sum(self.sizes[:k + 1]):
                self.delays[mode].append(now - self.written[k])
                k += 1
            self.seen[mode] = k

    def run(self, seconds, drain=75.0):
        """Probes for `seconds`, then waits up to `drain` for the rest."""
        end = time.monotonic() + seconds
        next_probe = time.monotonic()
        while time.monotonic() < end:
            if time.monotonic() >= next_probe:
                self.probe()
                next_probe += self.every
            self.check()
            time.sleep(self.poll)  # the poll rate of the probe
        deadline = time.monotonic() + drain
        while any(s < self.count for s in self.seen.values()) and \
                time.monotonic() < deadline:
            self.check()
            time.sleep(self.poll)

    def summary(self, mode):
        d = self.delays[mode]
        return {"probes": self.count, "seen": len(d), "p50": pct(d, 50),
                "p99": pct(d, 99), "max": max(d) if d else float("nan")}


# ---------------------------------------------------------------- main


def start_exporter(work, tree, mode, interval):
    config = os.path.join(work, "stemedb-%s.yaml" % mode)
    extra = "  mode: %s\n" % mode
    with open(config, "w") as f:
        f.write(e2e.config_yaml(tree, interval=interval, extra=extra)
                .replace("timeout: 30s", "timeout: 5m"))
    started = time.monotonic()
    exp = e2e.Exporter(work, ["--config", config],
                     name="exporter-" + mode, ready_timeout=600)

    def first_walk():
        m = exp.scrape()
        ok = [v for _, v in m.series("stemedb_disk_scan_success")]
        return ok and all(v == 1 for v in ok) and m
    m = e2e.wait_until(first_walk, 600, "the %s exporter's first walk" % mode,
                       interval=0.02)
    exp.first_walk_wall = time.monotonic() - started
    exp.first_walk_duration = max(
        v for _, v in m.series("stemedb_disk_scan_duration_seconds"))
    return exp


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dir", default="/work/tmp")
    p.add_argument("--files", type=int, default=1000000)
    p.add_argument("--idle-seconds", type=float, default=600)
    p.add_argument("--busy-seconds", type=float, default=120)
    p.add_argument("--fresh-seconds", type=float, default=60)
    p.add_argument("--poll", type=float, default=0.1)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--keep", help="use (or create and keep) this tree")
    p.add_argument("--exporter", default=os.path.join(
        REPO, "build", "bin", "stemedb_disk_exporter"))
    a = p.parse_args()
    os.environ["STEMEDB_EXPORTER"] = os.path.abspath(a.exporter)
    modes = ["watch", "walk"]
    print("bench/watch: modes %s, exporter %s, load %s" % (
        modes, a.exporter, os.getloadavg()), flush=True)

    os.makedirs(a.dir, exist_ok=True)
    work = tempfile.mkdtemp(prefix="bench-watch-", dir=a.dir)
    tree = a.keep or os.path.join(work, "tree")
    exporters = {}
    results = {}
    stop = multiprocessing.Event()
    writers = []
    try:
        if not os.path.isdir(tree):
            t = time.monotonic()
            subprocess.run([sys.executable, os.path.join(
                REPO, "..", "shared", "bench", "make-tree.py"), tree,
                "--files", str(a.files)], check=True)
            print("tree: %d files in %.0fs at %s" % (
                a.files, time.monotonic() - t, tree), flush=True)
        probe_dir = os.path.join(tree, "data", "db", "probe")
        os.makedirs(probe_dir, exist_ok=True)
        subprocess.run(["sync"], check=True)

        # 1. First full walk vs du -s (warm cache, interleaved runs).
        once = [a.exporter, "--once", "--root", tree]
        du = ["du", "-s", "--block-size=1", tree]
        timed(du), timed(once)
        walls = {"du": [], "once": []}
        for _ in range(a.runs):
            walls["du"].append(timed(du))
            walls["once"].append(timed(once))
        du_wall = statistics.median(walls["du"])
        once_wall = statistics.median(walls["once"])
        print("du -s %.2fs, --once %.2fs (median of %d)" % (
            du_wall, once_wall, a.runs), flush=True)

        # 2. Both exporters, side by side.
        for mode in modes:
            exporters[mode] = start_exporter(work, tree, mode, "1m")
            print("%s exporter: first walk %.2fs (scan_duration %.2fs)" % (
                mode, exporters[mode].first_walk_wall,
                exporters[mode].first_walk_duration), flush=True)
        pids = {m: e.process.proc.pid for m, e in exporters.items()}

        # 3. Freshness, idle tree.
        fresh_idle = Prober("idle", probe_dir, exporters, a.poll)
        fresh_idle.run(a.fresh_seconds)
        print("idle freshness: %s" % {m: fresh_idle.summary(m)
                                      for m in modes}, flush=True)

        # 4. Idle cost: nothing changes, nobody scrapes.
        subprocess.run(["sync"], check=True)
        cpu0 = {m: cpu_seconds(pid) for m, pid in pids.items()}
        t0 = time.monotonic()
        time.sleep(a.idle_seconds)  # the measurement window itself
        idle_wall = time.monotonic() - t0
        idle_cpu = {m: cpu_seconds(pid) - cpu0[m] for m, pid in pids.items()}
        print("idle %.0fs: cpu-seconds %s" % (idle_wall, idle_cpu),
              flush=True)

        # 5. Busy cost.
        writers += [
            multiprocessing.Process(target=wal_writer, args=(
                os.path.join(tree, "data", "wal"), stop), daemon=True),
            multiprocessing.Process(target=tmp_churn, args=(
                os.path.join(tree, "data", "tmp"), stop), daemon=True),
        ]
        cpu0 = {m: cpu_seconds(pid) for m, pid in pids.items()}
        t0 = time.monotonic()
        for proc in writers:
            proc.start()
        fresh_busy = Prober("busy", probe_dir, exporters, a.poll)
        fresh_busy.run(a.busy_seconds, drain=0)
        stop.set()
        for proc in writers:
            proc.join(60)
            if proc.exitcode != 0:
                raise SystemExit("bench: a writer failed (%s)" % proc.exitcode)
        busy_wall = time.monotonic() - t0
        busy_cpu = {m: cpu_seconds(pid) - cpu0[m] for m, pid in pids.items()}
        # The last probes, now that the writers are quiet (walk mode: up to
        # one interval).
        fresh_busy.run(0, drain=90)
        subprocess.run(["sync"], check=True)
        quiet = time.time()
        spec = {c: (os.path.join(tree, rel), e2e.SEGMENT_PATTERNS.get(c))
                for c, rel in e2e.DEFAULT_LAYOUT.items()}
        want = w.truth(spec)
        exact = {}
        for mode, exp in exporters.items():
            if mode == "walk":
                w.wait_walk_after(exp, quiet, timeout=300)
                exact[mode] = w.mismatches(exp.scrape(), want)
                exact_after = None
            else:
                t = time.monotonic()
                last = []

                def check(exp=exp):
                    last[:] = w.mismatches(exp.scrape(), want)
                    return not last
                try:
                    e2e.wait_until(check, 60, "watch numbers exact")
                except e2e.Timeout:
                    pass
                exact[mode] = last
                exact_after = time.monotonic() - t
            results.setdefault(mode, {})["exact_after"] = exact_after
        print("busy %.0fs: cpu-seconds %s; exact %s" % (
            busy_wall, busy_cpu, exact), flush=True)

        # 6. Peak RSS.
        for mode, pid in pids.items():
            r = results.setdefault(mode, {})
            r.update(
                first_walk=exporters[mode].first_walk_duration,
                first_walk_wall=exporters[mode].first_walk_wall,
                idle_cpu=idle_cpu[mode], idle_share=idle_cpu[mode] / idle_wall,
                busy_cpu=busy_cpu[mode], busy_share=busy_cpu[mode] / busy_wall,
                fresh_idle=fresh_idle.summary(mode),
                fresh_busy=fresh_busy.summary(mode),
                exact=not exact[mode], mismatches=exact[mode],
                rss=vm_hwm_mib(pid))
        for mode in modes:
            m = exporters[mode].scrape()
            results[mode]["rewalks"] = {
                "%s/%s" % (l["component"], l["reason"]): v
                for l, v in m.series(w.REWALKS) if v}
            results[mode]["events"] = w.total(m, w.EVENTS)
            results[mode]["watches"] = w.total(m, w.WATCHES)
    finally:
        stop.set()
        for proc in writers:
            if proc.pid is not None:
                proc.join(30)
                if proc.is_alive():
                    proc.terminate()
                    proc.join()
        for exp in exporters.values():
            exp.close()
        # The tree is in `work` unless --keep put it elsewhere.
        shutil.rmtree(work, ignore_errors=True)

    print()
    print("bench/watch.py: %d files, idle %.0fs, busy %.0fs (20 MB/s WAL, "
          "64 MiB segments, 100 tmp files/s), poll %.0f ms, load %s" % (
              a.files, idle_wall, busy_wall, a.poll * 1000,
              "%.1f %.1f %.1f" % os.getloadavg()))
    print("du -s --block-size=1: %.2fs; exporter --once: %.2fs (%.2f x du)" % (
        du_wall, once_wall, once_wall / du_wall))
    rows = [
        ("first walk s (scan_duration)", "first_walk", "%.2f"),
        ("first walk / du -s", None, None),
        ("idle CPU-s", "idle_cpu", "%.2f"),
        ("idle % of a core", "idle_share", None),
        ("busy CPU-s", "busy_cpu", "%.2f"),
        ("busy % of a core", "busy_share", None),
        ("fresh idle p50 / p99 s", "fresh_idle", None),
        ("fresh busy p50 / p99 s", "fresh_busy", None),
        ("exact at stop", "exact", None),
        ("peak RSS MiB (VmHWM)", "rss", "%.1f"),
        ("rewalks", "rewalks", "%s"),
    ]
    print("%-30s" % "" + "".join("%24s" % m for m in modes))
    for label, key, fmt in rows:
        cells = []
        for mode in modes:
            r = results[mode]
            if key is None:
                v = "%.2f" % (r["first_walk"] / du_wall)
            elif key.endswith("_share"):
                v = "%.3f %%" % (100 * r[key])
            elif key.startswith("fresh"):
                f = r[key]
                v = "%.2f / %.2f (%d/%d)" % (f["p50"], f["p99"], f["seen"],
                                              f["probes"])
            elif key == "exact":
                v = "yes" if r["exact"] else "NO (%d)" % len(r["mismatches"])
            else:
                v = fmt % (r[key],)
            cells.append("%24s" % v)
        print("%-30s" % label + "".join(cells))
    for mode in modes:
        if results[mode]["mismatches"]:
            print("%s mismatches:\n  %s" % (
                mode, "\n  ".join(results[mode]["mismatches"])))


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    main()
