#!/usr/bin/env python3
"""e2e_watch_freshness: the real Prometheus sees a WAL write within 2 s.

Watch mode's promise: a change reaches /metrics in seconds, not at the next
scan interval. The probe writes a file of known size into data/wal (a new
segment, or an append to the newest), fsyncs it (a WAL does; it also makes
st_blocks final, so du is the truth from that moment), and polls the real
Prometheus' query API until the WAL's numbers (allocated bytes, apparent
bytes, files, segments) equal du and find. The delay is from the write's
return to the first query result that shows it.

Watch mode runs with scan.interval 1h: only the watcher can make it fresh.
Walk mode, the baseline, needs an interval under the bound (500ms here) and
shows the pipeline works the same way today.

The bound asserted is the 2 s target plus one scrape interval: Prometheus
samples /metrics once per scrape interval, so a value the exporter served
at 2.0 s may first be stored up to one interval later; anything tighter
would measure Prometheus' scrape phase, not the exporter. The 20 ms poll of
the query API is not allowed for on top: a miss under load is a real miss.
"""
import os
import sys
import time
import unittest

import e2e_lib as e2e
import watch_lib as w

SCRAPE_INTERVAL = 0.5
BOUND = 2.0 + SCRAPE_INTERVAL
PROBES = 6


def percentile(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100.0 * (len(s) - 1))))]


class FreshnessTest(unittest.TestCase):

    def run_mode(self, mode):
        tmp = w.disk_workdir("e2e-fresh-")
        self.addCleanup(tmp.cleanup)
        work = tmp.name
        root = os.path.join(work, "root")
        e2e.make_demo_tree(root)
        wal = os.path.join(root, e2e.DEFAULT_LAYOUT["wal"])
        config = os.path.join(work, "stemedb.yaml")
        e2e.write_text(config, e2e.config_yaml(
            root, interval="500ms" if mode == "walk" else "1h",
            extra=w.scan_extra(mode, "6h")))
        exporter = e2e.Exporter(work, ["--config", config])
        self.addCleanup(exporter.close)
        target = "127.0.0.1:%d" % exporter.port
        prom = e2e.Prometheus(work, [e2e.scrape_job(target)],
                              interval="%dms" % (SCRAPE_INTERVAL * 1000))
        self.addCleanup(prom.close)
        sel = '{job="stemedb_disk",instance="%s",component="wal"}' % target
        queries = {
            "allocated": "stemedb_disk_component_allocated_bytes" + sel,
            "apparent": "stemedb_disk_component_apparent_bytes" + sel,
            "files": "stemedb_disk_component_files" + sel,
            "segments": "stemedb_disk_segments" + sel,
        }

        def seen(want):
            got = {}
            for key, q in queries.items():
                r = prom.query(q)
                got[key] = float(r[0]["value"][1]) if len(r) == 1 else None
            return all(got[k] == want[k] for k in queries) or got

        def wait_seen(want, timeout):
            last = []

            def check():
                r = seen(want)
                if r is True:
                    return True
                last[:] = [r]
                return False
            try:
                e2e.wait_until(check, timeout, "Prometheus to show %r" % want,
                               interval=0.02)
            except e2e.Timeout as e:
                raise AssertionError("%s; last seen %r" % (e, last))

        # Prometheus has the tree as it was before the first probe.
        wait_seen(w.component_truth(wal, "*.log"), 60)
        if mode == "watch":
            m = exporter.scrape()
            self.assertEqual(w.mode_of(m, "wal"), "watch")
        delays = []
        for i in range(PROBES):
            segs = sorted(n for n in os.listdir(wal) if n.endswith(".log"))
            if i % 2 == 0:
                path = os.path.join(wal, "segment-probe-%03d.log" % i)
                flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
            else:
                path = os.path.join(wal, segs[-1])
                flags = os.O_WRONLY | os.O_APPEND
            fd = os.open(path, flags, 0o644)
            try:
                os.write(fd, b"w" * (65536 + 4096 * i + i))
                os.fsync(fd)
            finally:
                os.close(fd)
            written = time.monotonic()
            want = w.component_truth(wal, "*.log")
            wait_seen(want, 60)
            delays.append(time.monotonic() - written)
        print("%s mode: write to Prometheus query, %d probes: p50 %.3fs, "
              "max %.3fs (bound %.1fs)" % (
                  mode, len(delays), percentile(delays, 50), max(delays),
                  BOUND), file=sys.stderr)
        late = [round(d, 3) for d in delays if d > BOUND]
        self.assertEqual(late, [], "delays %r exceed %.1fs" % (
            [round(d, 3) for d in delays], BOUND))


for _mode in w.modes():
    def _test(self, mode=_mode):
        self.run_mode(mode)
    _test.__name__ = "test_%s_mode" % _mode
    setattr(FreshnessTest, _test.__name__, _test)


if __name__ == "__main__":
    e2e.run_main()
