"""The VictoriaMetrics chain of the end-to-end tests: vmagent scrapes the
exporters and remote-writes to a single-node victoria-metrics, which
vmalert queries to evaluate the rules stemedb_rulegen generated, the way
fleets run it (Debian's victoria-metrics package, 1.79).

    vm = start_victoria_metrics(work)
    start_vmagent(work, ["127.0.0.1:PORT", ...], vm)
    alerts = start_vmalert(work, [rules], vm)
    vmalert_firing(alerts)    # [labels of each firing alert]

Every process listens on 127.0.0.1 on a port found free by binding port 0
(none of them reports a port-0 bind), is waited for through its /health,
and is stopped by the test's cleanup. What the tests rely on:
- victoria-metrics with -search.latencyOffset=0s and -search.disableCache:
  a sample is visible to the next query (the default hides the last 30 s).
  A series it has just registered, though, can stay invisible for about
  10 s to a query that found nothing before (1.79): a test's first wait
  for data absorbs that;
- vmagent scrapes every second and flushes every second;
- vmalert evaluates every second, writes its recording rules back to
  victoria-metrics (it refuses recording rules without -remoteWrite.url)
  and sends alerts to an AlertSink (1.79 refuses alerting rules without a
  notifier and has no -notifier.blackhole).
"""
import http.server
import json
import os
import threading
import urllib.parse

import e2e_lib as e2e

SCRAPE_INTERVAL = "1s"
EVALUATION_INTERVAL = "1s"


class VMProcess:
    """One VictoriaMetrics program on a free loopback port, ready."""

    def __init__(self, workdir, name, binary, args, ready_timeout=60):
        binary = e2e.require_tool(binary)
        self.process = None

        def start(port):
            self.process = e2e.Process(
                [binary, "-httpListenAddr=127.0.0.1:%d" % port,
                 "-loggerLevel=WARN"] + list(args),
                os.path.join(workdir, "%s-%d.log" % (name, port)))
            self.port = port
            self.url = "http://127.0.0.1:%d" % port
            try:
                e2e.wait_ready_url(self.process, self.url + "/health",
                                   ready_timeout, name)
            except BaseException:
                self.process.close()
                raise
            return self

        e2e.start_with_port_retry(start, name)

    def api(self, path, **params):
        url = self.url + path
        if params:
            url += "?" + urllib.parse.urlencode(params)
        reply = e2e.http_json(url)
        if reply.get("status") != "success":
            raise AssertionError("%s: %r" % (url, reply))
        return reply["data"]

    def log(self):
        return self.process.log() if self.process else ""

    def close(self):
        if self.process:
            self.process.close()


def start_victoria_metrics(test, name="victoria-metrics"):
    """A single-node victoria-metrics storing in test.work, closed after
    the test; its Prometheus query API is at .url."""
    vm = VMProcess(test.work, name, "victoria-metrics", [
        "-storageDataPath=" + os.path.join(test.work, name + "-data"),
        "-retentionPeriod=1d",
        # Fresh samples visible at once, never an answer from the cache.
        "-search.latencyOffset=0s",
        "-search.disableCache"])
    test.addCleanup(vm.close)
    return vm


def start_vmagent(test, targets, vm, job="stemedb_disk", name="vmagent"):
    """vmagent scraping `targets` (host:port) as `job` every second and
    remote-writing every sample to `vm`; closed after the test."""
    config = os.path.join(test.work, name + ".yml")
    # JSON is YAML: no YAML library needed.
    e2e.write_text(config, json.dumps({
        "global": {"scrape_interval": SCRAPE_INTERVAL,
                   "scrape_timeout": SCRAPE_INTERVAL},
        "scrape_configs": [{"job_name": job, "static_configs": [
            {"targets": list(targets)}]}]}, indent=2))
    agent = VMProcess(test.work, name, "vmagent", [
        "-promscrape.config=" + config,
        "-remoteWrite.url=%s/api/v1/write" % vm.url,
        "-remoteWrite.tmpDataPath=" + os.path.join(test.work, name + "-data"),
        "-remoteWrite.flushInterval=1s"])
    test.addCleanup(agent.close)
    return agent


class AlertSink:
    """What vmalert sends alerts to: a loopback HTTP server that keeps
    every alert POSTed to /api/v2/alerts (Alertmanager's API) and answers
    200. Serves on a thread until closed."""

    def __init__(self):
        self.received = []  # every alert's dict, in arrival order
        self._lock = threading.Lock()
        sink = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # pylint: disable=invalid-name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with sink._lock:
                    sink.received.extend(json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                      Handler)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever,
                                        daemon=True)
        self._thread.start()

    def alertnames(self):
        with self._lock:
            return {a["labels"].get("alertname") for a in self.received}

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def start_vmalert(test, rule_files, vm, name="vmalert"):
    """vmalert evaluating `rule_files` every second against `vm`, recording
    rules written back to it, alerts sent to an AlertSink (.sink); closed
    after the test."""
    sink = AlertSink()
    test.addCleanup(sink.close)
    alerts = VMProcess(test.work, name, "vmalert", [
        "-datasource.url=" + vm.url,
        "-remoteWrite.url=" + vm.url,
        "-notifier.url=" + sink.url,
        "-evaluationInterval=" + EVALUATION_INTERVAL] +
        ["-rule=" + r for r in rule_files])
    alerts.sink = sink
    test.addCleanup(alerts.close)
    return alerts


def vmalert_firing(vmalert):
    """The labels of every alert vmalert holds as firing (alertname
    included), from its /api/v1/alerts."""
    alerts = vmalert.api("/api/v1/alerts")["alerts"] or []  # none: null
    return [dict(a["labels"], alertname=a["name"]) for a in alerts
            if a["state"] == "firing"]
