"""The real Prometheus over a backfilled TSDB: load OpenMetrics windows
with promtool, serve the TSDB on a loopback port, read the rule files back
as Prometheus parsed them, backfill recording rules, and evaluate alerting
expressions over past data with range queries."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))
import e2e_lib as e2e  # noqa: E402

MAX_POINTS = 10000  # Prometheus refuses more than 11,000 points a series
BLOCK = "162h"  # one generator window is one block (generate.WINDOW)


def load_openmetrics(path, tsdb):
    """promtool tsdb create-blocks-from openmetrics, one block a window."""
    subprocess.run([e2e.require_tool("promtool"), "tsdb",
                    "create-blocks-from", "openmetrics", "--quiet",
                    "--max-block-duration=" + BLOCK, path, tsdb],
                   check=True, stdout=subprocess.DEVNULL)


def dir_bytes(path):
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            total += os.path.getsize(os.path.join(root, f))
    return total


class Server:
    """Prometheus serving `tsdb` (retention unbounded) with rule_files
    loaded (evaluated only once an hour, against now: their past is what
    range queries compute)."""

    def __init__(self, workdir, tsdb, rule_files):
        self.workdir, self.tsdb, self.rule_files = workdir, tsdb, rule_files
        self.process = None
        self._start()

    def _start(self):
        config = os.path.join(self.workdir, "prometheus.yml")
        with open(config, "w") as f:
            json.dump({"global": {"evaluation_interval": "1h"},
                       "rule_files": list(self.rule_files)}, f)
        binary = e2e.require_tool("prometheus")

        def start(port):
            self.process = e2e.Process(
                [binary, "--config.file=" + config,
                 "--storage.tsdb.path=" + self.tsdb,
                 "--storage.tsdb.retention.time=100y",
                 "--query.timeout=10m", "--query.max-samples=200000000",
                 "--web.listen-address=127.0.0.1:%d" % port,
                 "--log.level=warn"],
                os.path.join(self.workdir, "prometheus-%d.log" % port))
            self.url = "http://127.0.0.1:%d" % port
            try:
                e2e.wait_ready_url(self.process, self.url + "/-/ready", 300,
                                   "prometheus")
            except BaseException:
                self.process.close()
                raise
            return self

        e2e.start_with_port_retry(start, "prometheus")

    def restart(self):
        self.process.close(timeout=60)
        self._start()

    def close(self):
        if self.process:
            self.process.close(timeout=60)

    def api(self, path, **params):
        url = self.url + path + "?" + urllib.parse.urlencode(params)
        reply = e2e.http_json(url, timeout=900)
        if reply.get("status") != "success":
            raise AssertionError("%s: %r" % (url, reply))
        return reply["data"]

    def rules(self):
        """[{file, type, name, query, duration, labels}] as Prometheus
        parsed the rule files."""
        out = []
        for g in self.api("/api/v1/rules")["groups"]:
            for r in g["rules"]:
                out.append({"file": g["file"], "group": g["name"],
                            "type": r["type"], "name": r["name"],
                            "query": r["query"],
                            "for": int(r.get("duration", 0)),
                            "labels": r.get("labels", {})})
        return out

    def count_samples(self, start, end):
        """Raw samples stored in [start, end), family by family (a range
        function drops the name, so all families at once would clash)."""
        total = 0
        for name in self.api("/api/v1/label/__name__/values"):
            r = self.api("/api/v1/query", time=end - 0.001,
                         query="sum(count_over_time(%s[%ds]))" % (
                             name, end - start))["result"]
            total += int(float(r[0]["value"][1])) if r else 0
        return total

    def active(self, expr, start, end, step):
        """{labels-tuple: [times]} at which expr had a result, evaluated
        every step from start to end (chunked under the point limit)."""
        out = {}
        t = start
        while t <= end:
            t_end = min(end, t + (MAX_POINTS - 1) * step)
            for s in self.api("/api/v1/query_range", query=expr, start=t,
                              end=t_end, step=step)["result"]:
                labels = tuple(sorted((k, v) for k, v in s["metric"].items()
                                      if k != "__name__"))
                out.setdefault(labels, []).extend(
                    int(float(ts)) for ts, _ in s["values"])
            t = t_end + step
        return out


_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")


def referenced_recordings(rules):
    """Recording rules that alerting rules read, with what those read in
    turn, in dependency levels (level 0 reads only raw series)."""
    records = {r["name"]: r for r in rules if r["type"] == "recording"}
    need = set()
    todo = [r for r in rules if r["type"] == "alerting"]
    while todo:
        r = todo.pop()
        for name in set(_NAME.findall(r["query"])) & set(records):
            if name not in need:
                need.add(name)
                todo.append(records[name])
    levels = []
    done = set()
    while need - done:
        level = [n for n in sorted(need - done)
                 if not (set(_NAME.findall(records[n]["query"])) &
                         (need - done - {n}))]
        if not level:
            raise ValueError("recording rules depend on each other in a "
                             "cycle: %s" % sorted(need - done))
        levels.append([records[n] for n in level])
        done.update(level)
    return levels


def backfill_recordings(server, levels, start, end, step):
    """promtool tsdb create-blocks-from rules, one dependency level at a
    time (promtool cannot backfill a rule that reads another rule of the
    same run), the blocks moved into the TSDB and Prometheus restarted."""
    promtool = e2e.require_tool("promtool")
    for i, level in enumerate(levels):
        rules_file = os.path.join(server.workdir, "backfill-%d.yml" % i)
        with open(rules_file, "w") as f:
            json.dump({"groups": [{"name": "backfill-%d" % i, "rules": [
                {"record": r["name"], "expr": r["query"],
                 **({"labels": r["labels"]} if r["labels"] else {})}
                for r in level]}]}, f)
        out = tempfile.mkdtemp(prefix="backfill-", dir=server.workdir)
        subprocess.run([promtool, "tsdb", "create-blocks-from", "rules",
                        "--start=%d" % start, "--end=%d" % end,
                        "--eval-interval=%ds" % step, "--url=" + server.url,
                        "--output-dir=" + out, rules_file], check=True,
                       stdout=subprocess.DEVNULL)
        for block in os.listdir(out):
            shutil.move(os.path.join(out, block),
                        os.path.join(server.tsdb, block))
        server.restart()
