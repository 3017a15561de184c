"""Shared helpers for the end-to-end tests: processes, HTTP, polling.

The tests run the real binaries: stemedb_disk_exporter, stemedb_rulegen,
Debian's prometheus, promtool, prometheus-alertmanager and
prometheus-node-exporter. CTest passes the paths of our own binaries in the
environment (see tests/e2e/CMakeLists.txt):

  STEMEDB_EXPORTER    path of stemedb_disk_exporter
  STEMEDB_EXPORTER_TESTING  path of stemedb_disk_exporter_testing (the same
                      with the hidden --testing.* flags)
  STEMEDB_RULEGEN     path of stemedb_rulegen (only for the rulegen tests)
  STEMEDB_SOURCE_DIR  the repository (PROJECT_SOURCE_DIR)

Every wait is a poll of an observable condition with a deadline; nothing
sleeps in place of synchronisation. Every child process is stopped in a
finally/tearDown, and its stderr is kept in a file so a failure shows it.
"""
import errno
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

# CTest treats this exit code as "skipped" (SKIP_RETURN_CODE).
SKIP_EXIT_CODE = 77

COMPONENTS = ("wal", "db", "backups", "logs", "tmp")
# The runbook's default layout, relative to the root.
DEFAULT_LAYOUT = {
    "wal": "data/wal",
    "db": "data/db",
    "backups": "backups",
    "logs": "logs",
    "tmp": "data/tmp",
}
SEGMENT_PATTERNS = {"wal": "*.log", "backups": "stemedb-backup-*"}
# The fixed set of scan error reasons of the metric contract.
ERROR_REASONS = ("permission", "vanished", "loop", "timeout", "other")


def env_path(name, required=True):
    value = os.environ.get(name, "")
    if required and not value:
        raise RuntimeError(
            "%s is not set; run the e2e tests through ctest "
            "(ctest --test-dir BUILD -L e2e)" % name)
    return value


def exporter_binary(args=()):
    """The exporter; the testing build of it when `args` has a hidden
    --testing.* flag (the production binary does not know them)."""
    if any(str(a).startswith("--testing.") for a in args):
        return env_path("STEMEDB_EXPORTER_TESTING")
    return env_path("STEMEDB_EXPORTER")


def rulegen_binary():
    return env_path("STEMEDB_RULEGEN")


def source_dir():
    return env_path("STEMEDB_SOURCE_DIR")


def in_ci():
    return os.environ.get("CI", "") == "true"


def require_tool(path):
    """A peer the tests need must be installed; never skip silently."""
    if shutil.which(path) is None:
        raise RuntimeError("%s is not installed (run the setup script)" % path)
    return shutil.which(path)


def run_main():
    """unittest.main with a verbose runner; exits with its result."""
    unittest.main(verbosity=2)


# ---------------------------------------------------------------- polling


class Timeout(AssertionError):
    pass


def wait_until(predicate, timeout, what, interval=0.1):
    """Polls predicate() until it returns a truthy value; returns it.

    Raises Timeout naming `what` and the last value or exception seen.
    """
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            value = predicate()
            if value:
                return value
            last = value
        except Exception as e:  # pylint: disable=broad-except
            last = "%s: %s" % (type(e).__name__, e)
        if time.monotonic() >= deadline:
            raise Timeout("timed out after %.0fs waiting for %s (last: %r)" %
                          (timeout, what, last))
        time.sleep(interval)


# ---------------------------------------------------------------- HTTP


def http_get(url, timeout=10):
    """Returns (status, body text, headers); HTTP errors are not raised."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode("utf-8"), r.headers
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace"), e.headers


def http_json(url, timeout=10):
    status, body, _ = http_get(url, timeout)
    if status != 200:
        raise AssertionError("GET %s: HTTP %d: %s" % (url, status, body[:500]))
    return json.loads(body)


def free_port():
    """A loopback port that was free a moment ago (for servers that cannot
    report a port-0 bind); callers retry once if it was taken meanwhile."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- exposition

_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)'
                     r'(?:\s+\S+)?$')
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?')


def _unescape(v):
    return v.replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\")


def parse_labels(text):
    labels = {}
    pos = 0
    text = text or ""
    while pos < len(text):
        m = _LABEL.match(text, pos)
        if not m:
            raise ValueError("bad label set: %r" % text)
        labels[m.group(1)] = _unescape(m.group(2))
        pos = m.end()
    return labels


class Exposition:
    """A parsed Prometheus text exposition (format 0.0.4)."""

    def __init__(self, text):
        self.text = text
        self.types = {}  # family -> type, in order of appearance
        self.helps = {}
        self.samples = []  # (name, labels dict, float value)
        for line in text.splitlines():
            if not line.strip():
                continue
            if line.startswith("# TYPE "):
                _, _, name, kind = line.split(None, 3)
                self.types[name] = kind.strip()
            elif line.startswith("# HELP "):
                parts = line.split(None, 3)
                self.helps[parts[2]] = parts[3] if len(parts) > 3 else ""
            elif line.startswith("#"):
                continue
            else:
                m = _SAMPLE.match(line)
                if not m:
                    raise ValueError("bad sample line: %r" % line)
                self.samples.append(
                    (m.group(1), parse_labels(m.group(2)), float(m.group(3))))

    def series(self, name, **match):
        """[(labels, value)] of `name` whose labels include `match`."""
        return [(l, v) for n, l, v in self.samples if n == name and
                all(l.get(k) == str(x) for k, x in match.items())]

    def value(self, name, **match):
        """The one value of `name` matching; None when absent."""
        found = self.series(name, **match)
        if len(found) > 1:
            raise AssertionError("%s%r matches %d series" %
                                 (name, match, len(found)))
        return found[0][1] if found else None

    def by_label(self, name, label):
        return {l[label]: v for l, v in self.series(name)}


# ---------------------------------------------------------------- processes


class Process:
    """A child process with stdout+stderr in a log file, stopped on close()."""

    def __init__(self, argv, log_path, cwd=None, env=None):
        self.argv = list(argv)
        self.log_path = log_path
        self._log = open(log_path, "wb")
        self.proc = subprocess.Popen(self.argv, stdout=self._log,
                                     stderr=subprocess.STDOUT, cwd=cwd,
                                     env=env, stdin=subprocess.DEVNULL)

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def alive(self):
        return self.proc.poll() is None

    def signal(self, sig):
        self.proc.send_signal(sig)

    def close(self, timeout=10):
        """SIGTERM, then SIGKILL after `timeout`; returns the exit status."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode


class ExitedEarly(AssertionError):
    pass


def wait_ready_url(process, url, timeout, what):
    def ready():
        if not process.alive():
            raise ExitedEarly("%s exited with %s:\n%s" %
                              (what, process.proc.returncode, process.log()))
        status, _, _ = http_get(url, timeout=2)
        return status == 200
    try:
        wait_until(ready, timeout, "%s at %s" % (what, url), interval=0.1)
    except ExitedEarly:
        raise
    except Timeout as e:
        raise Timeout("%s\n--- %s log:\n%s" % (e, what, process.log()))


class Exporter:
    """stemedb_disk_exporter serving on 127.0.0.1 at the port it chose."""

    _LISTENING = re.compile(r"msg=listening .*\bport=(\d+)")

    def __init__(self, workdir, args, name="exporter", ready_timeout=60,
                 wrapper=()):
        """Starts it with `args`, its stderr in workdir/NAME.log, and waits
        ready_timeout seconds for /-/ready (0: no wait). `wrapper`: a command
        that execs the exporter (e.g. `unshare -Ur sh -c '...; exec "$@"'
        sh`)."""
        self.process = Process(
            list(wrapper) + [exporter_binary(args), "--web.listen-address",
                             "127.0.0.1:0"] + list(args),
            os.path.join(workdir, name + ".log"))
        try:
            self.port = int(wait_until(self._port, 30,
                                       "the exporter's listening line"))
            self.url = "http://127.0.0.1:%d" % self.port
            if ready_timeout:
                self.wait_ready(ready_timeout)
        except BaseException:
            self.close()
            raise

    def _port(self):
        m = self._LISTENING.search(self.process.log())
        if m:
            return m.group(1)
        if not self.process.alive():
            raise ExitedEarly("exporter exited with %s:\n%s" %
                              (self.process.proc.returncode,
                               self.process.log()))
        return None

    def wait_ready(self, timeout=60):
        wait_ready_url(self.process, self.url + "/-/ready", timeout,
                       "exporter")

    def get(self, path):
        return http_get(self.url + path)

    def scrape(self):
        status, body, headers = self.get("/metrics")
        if status != 200:
            raise AssertionError("/metrics: HTTP %d: %s" % (status, body))
        return Exposition(body)

    def log(self):
        return self.process.log()

    def close(self):
        return self.process.close()


def start_with_port_retry(start, what):
    """Runs start(port) with a free port; once more if the bind lost a race."""
    for attempt in (1, 2):
        port = free_port()
        try:
            return start(port)
        except ExitedEarly as e:
            if attempt == 2 or "address already in use" not in str(e):
                raise
            print("%s: port %d was taken, retrying" % (what, port),
                  file=sys.stderr)
    raise AssertionError("unreachable")


class Prometheus:
    """Debian's prometheus with a config this class writes."""

    def __init__(self, workdir, scrape_configs, rule_files=(),
                 alertmanager_port=None, interval="1s", ready_timeout=60,
                 name="prometheus", agent=False, remote_write=None,
                 extra_args=()):
        """agent: Prometheus' agent mode (scrape and remote-write only);
        remote_write: the URL to send every sample to, within a second;
        extra_args: more flags (e.g. --web.enable-remote-write-receiver)."""
        self.workdir = workdir
        self.config_path = os.path.join(workdir, name + ".yml")
        config = {
            "global": {"scrape_interval": interval,
                       "scrape_timeout": interval,
                       "evaluation_interval": interval},
            "scrape_configs": scrape_configs,
        }
        if remote_write:
            config["remote_write"] = [{
                "url": remote_write,
                "queue_config": {"batch_send_deadline": "1s",
                                 "min_backoff": "100ms",
                                 "max_backoff": "1s"}}]
        if rule_files:
            config["rule_files"] = list(rule_files)
        if alertmanager_port:
            config["alerting"] = {"alertmanagers": [{"static_configs": [
                {"targets": ["127.0.0.1:%d" % alertmanager_port]}]}]}
        # JSON is YAML: no YAML library needed.
        with open(self.config_path, "w") as f:
            json.dump(config, f, indent=2)
        binary = require_tool("prometheus")
        self.process = None

        def start(port):
            data = tempfile.mkdtemp(prefix=name + "-data-", dir=workdir)
            storage = (["--enable-feature=agent",
                        "--storage.agent.path=" + data] if agent else
                       ["--storage.tsdb.path=" + data,
                        # Alerts reach Alertmanager within a second.
                        "--rules.alert.resend-delay=1s"])
            self.process = Process(
                [binary, "--config.file=" + self.config_path] + storage +
                ["--web.listen-address=127.0.0.1:%d" % port,
                 "--log.level=warn"] + list(extra_args),
                os.path.join(workdir, "%s-%d.log" % (name, port)))
            self.port = port
            self.url = "http://127.0.0.1:%d" % port
            try:
                wait_ready_url(self.process, self.url + "/-/ready",
                               ready_timeout, "prometheus")
            except BaseException:
                self.process.close()
                raise
            return self

        start_with_port_retry(start, "prometheus")

    def api(self, path, **params):
        url = self.url + path
        if params:
            url += "?" + urllib.parse.urlencode(params)
        reply = http_json(url)
        if reply.get("status") != "success":
            raise AssertionError("%s: %r" % (url, reply))
        return reply["data"]

    def query(self, expr):
        """Instant query; returns the result list of a vector."""
        data = self.api("/api/v1/query", query=expr)
        if data["resultType"] not in ("vector",):
            return [{"metric": {}, "value": data["result"]}]
        return data["result"]

    def query_range(self, expr, start, end, step=1):
        return self.api("/api/v1/query_range", query=expr, start=start,
                        end=end, step=step)["result"]

    def firing_alerts(self):
        return [a for a in self.api("/api/v1/alerts")["alerts"]
                if a["state"] == "firing"]

    def log(self):
        return self.process.log() if self.process else ""

    def close(self):
        if self.process:
            self.process.close()


class Alertmanager:
    """Debian's prometheus-alertmanager, without gossip, on loopback."""

    def __init__(self, workdir, config_path, ready_timeout=60):
        binary = require_tool("prometheus-alertmanager")
        self.process = None

        def start(port):
            data = tempfile.mkdtemp(prefix="am-data-", dir=workdir)
            self.process = Process(
                [binary, "--config.file=" + config_path,
                 "--storage.path=" + data,
                 "--web.listen-address=127.0.0.1:%d" % port,
                 "--cluster.listen-address=",
                 "--log.level=warn"],
                os.path.join(workdir, "alertmanager-%d.log" % port))
            self.port = port
            self.url = "http://127.0.0.1:%d" % port
            try:
                wait_ready_url(self.process, self.url + "/-/ready",
                               ready_timeout, "alertmanager")
            except BaseException:
                self.process.close()
                raise
            return self

        start_with_port_retry(start, "alertmanager")

    def alerts(self):
        return http_json(self.url + "/api/v2/alerts")

    def log(self):
        return self.process.log() if self.process else ""

    def close(self):
        if self.process:
            self.process.close()


# ---------------------------------------------------------------- trees


def write_text(path, text):
    """Writes `text` to `path` (a config, a web config...); returns path."""
    with open(path, "w") as f:
        f.write(text)
    return path


def write_file(path, size, mtime=None):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(b"s" * size)
    if mtime is not None:
        os.utime(path, (mtime, mtime))


def make_demo_tree(root, now=None, wal_segments=5, backups=2, skip=()):
    """A small StemeDB layout the test owns: returns {component: files}.

    Components named in `skip` are not created (their directory is made by
    the caller, e.g. as a mount point).
    """
    now = int(now or time.time())
    files = {}
    if "wal" not in skip:
        for i in range(wal_segments):
            write_file(os.path.join(root, "data/wal/segment-%06d.log" % i),
                       4096 + i, now - 3600 * (wal_segments - i))
        files["wal"] = wal_segments
    if "db" not in skip:
        for i in range(3):
            write_file(os.path.join(root, "data/db/shard-00/%06d.kv" % i),
                       10000)
        files["db"] = 3
    if "backups" not in skip:
        for b in range(backups):
            write_file(os.path.join(
                root, "backups/stemedb-backup-2026010%d-000000/000000.kv" % b),
                8192, now - 86400 * (backups - b))
        files["backups"] = backups
    if "logs" not in skip:
        write_file(os.path.join(root, "logs/stemedb-api.log"), 1234)
        files["logs"] = 1
    if "tmp" not in skip:
        write_file(os.path.join(root, "data/tmp/op-000000.tmp"), 0)
        files["tmp"] = 1
    return files


def config_yaml(root, interval="1s", components=None, extra=""):
    """A strict exporter config (the schema of config/default.yaml)."""
    components = DEFAULT_LAYOUT if components is None else components
    lines = ["root: %s" % json.dumps(root), "components:"]
    for name, path in components.items():
        lines.append("  %s:" % name)
        lines.append("    path: %s" % json.dumps(path))
        if name in SEGMENT_PATTERNS:
            lines.append("    segment_pattern: %s" %
                         json.dumps(SEGMENT_PATTERNS[name]))
    lines += ["scan:", "  interval: %s" % interval, "  timeout: 30s",
              "  statfs_timeout: 5s"]
    # The tests written for walks (an interval, stuck walks, walk errors)
    # keep walk mode; watch mode is the default otherwise and the watch
    # tests ask for it (watch_lib.scan_extra).
    if "  mode:" not in extra:
        lines.append("  mode: walk")
    return "\n".join(lines) + "\n" + extra


def mountpoint_of(path):
    """The mount point holding `path`, from findmnt (util-linux): a truth
    independent of the exporter's own mountinfo parsing."""
    out = subprocess.run(["findmnt", "-n", "-o", "TARGET", "-T", path],
                         check=True, capture_output=True, text=True).stdout
    return out.strip()


def fill_inodes_until_enospc(directory, pattern, limit):
    """Creates empty files DIRECTORY/PATTERN % n (no blocks needed) until
    open(O_CREAT) says ENOSPC; returns how many were made. Any other error,
    or `limit` files without ENOSPC, is an AssertionError."""
    created = 0
    while True:
        path = os.path.join(directory, pattern % created)
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL,
                             0o644))
        except OSError as e:
            if e.errno != errno.ENOSPC:
                raise AssertionError("creating %s: %s" % (path, e))
            return created
        created += 1
        if created >= limit:
            raise AssertionError("inodes never ran out after %d files in %s"
                                 % (created, directory))


def fill_to(path, avail_ratio):
    """Appends to file `path` until avail_ratio of its filesystem's blocks
    is available (tmpfs allocates whole pages and reserves none)."""
    st = os.statvfs(os.path.dirname(path))
    grow = (st.f_bavail - round(st.f_blocks * avail_ratio)) * st.f_frsize
    assert grow > 0, (path, avail_ratio)
    with open(path, "ab") as f:
        f.write(b"x" * grow)


def fill_until_enospc(path, chunk=65536):
    """Appends to `path` until the filesystem says ENOSPC; returns bytes."""
    written = 0
    block = b"f" * chunk
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        while True:
            try:
                n = os.write(fd, block)
            except OSError as e:
                if e.errno == errno.ENOSPC:
                    return written
                raise
            written += n
            if n < len(block):
                block = block[:max(1, len(block) // 2)]
    finally:
        os.close(fd)


def in_mount_namespace():
    """True when this process has a mount namespace of its own, apart from
    its parent's (in_mount_ns.sh execs us after unshare)."""
    def ns(pid):
        return os.readlink("/proc/%s/ns/mnt" % pid)
    try:
        return ns("self") != ns(os.getppid())
    except OSError:
        return True  # the parent's namespace is not ours to read: unshared


def mount_tmpfs(target, size, nr_inodes):
    os.makedirs(target, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o",
                    "size=%s,nr_inodes=%d,mode=0755" % (size, nr_inodes),
                    "tmpfs", target], check=True)


def umount(target):
    subprocess.run(["umount", "-l", target], check=False)


class WorkdirTestCase(unittest.TestCase):
    """A test with a temporary directory of its own, self.work, removed
    after the test (prefix: WORKDIR_PREFIX)."""

    WORKDIR_PREFIX = "e2e-"

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix=self.WORKDIR_PREFIX)
        self.addCleanup(self.tmp.cleanup)
        self.work = self.tmp.name

    def start_exporter(self, args, **kwargs):
        """An Exporter in self.work, closed after the test."""
        exporter = Exporter(self.work, args, **kwargs)
        self.addCleanup(exporter.close)
        return exporter


class TmpfsTestCase(WorkdirTestCase):
    """A test that mounts small tmpfs filesystems (to fill them, exhaust
    their inodes, remount them read-only). It must run in a private mount
    namespace, through tests/e2e/in_mount_ns.sh (MOUNT_NS in CMakeLists):
    anywhere else it fails, never skips, so CI always runs it and it never
    touches the host's mounts."""

    def setUp(self):
        if not in_mount_namespace():
            self.fail("run through tests/e2e/in_mount_ns.sh: this test "
                      "mounts a tmpfs and must not touch the host's mounts")
        super().setUp()

    def mount_tmpfs(self, target, size, nr_inodes):
        """Mounts a tmpfs of `size` (mount's syntax: "2m", "40k") and
        nr_inodes at target (made if missing), unmounted after the test."""
        mount_tmpfs(target, size, nr_inodes)
        self.addCleanup(umount, target)


# ---------------------------------------------------------------- rulegen

# Grafana's variable syntaxes: $var, ${var}, ${var:format}, [[var]].
GRAFANA_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]")
# What Grafana puts for its built-in variables with the test Prometheus'
# 1 s scrape interval: $__rate_interval is max($__interval + scrape
# interval, 4 * scrape interval).
GRAFANA_BUILTINS = {"__rate_interval": "4s"}


def dashboard_panels(items):
    """Every panel of a Grafana dashboard's `panels`, rows' included."""
    for p in items:
        yield p
        yield from dashboard_panels(p.get("panels", []))



def fast_config(workdir):
    """The rulegen engineer's short-`for` config, made the exporter's too.

    tests/rulegen/data/fast.yaml has `for` durations of seconds; the test
    adds a 1 s scan interval so that capacity changes reach Prometheus within
    a second. Both the exporter and stemedb_rulegen then read this one file,
    as they do in production.
    """
    src = os.path.join(source_dir(), "tests", "rulegen", "data", "fast.yaml")
    with open(src) as f:
        text = f.read()
    if re.search(r"^scan\s*:", text, re.M):
        raise AssertionError("%s has a scan section now: set its interval to "
                             "1s there and drop the override in e2e_lib.py" %
                             src)
    return write_text(os.path.join(workdir, "fast.yaml"),
                      text + "\n# Added by tests/e2e: rescan every second.\n"
                      "scan:\n  interval: 1s\n")


ARTIFACTS = {
    "rules": "rules/stemedb-disk.rules.yml",
    "dashboard": "dashboards/stemedb-disk.json",
    "alertmanager": "deploy/alertmanager/alertmanager.yml",
}


def rule_test_groups(tests, prefixes):
    """Cuts the generated promtool test file TESTS down to the test groups
    whose names start with one of PREFIXES (tests/rulegen/rule_tests.py);
    fails unless each prefix kept a group."""
    sys.path.insert(0, os.path.join(source_dir(), "tests", "rulegen"))
    from rule_tests import keep_test_groups
    kept = keep_test_groups(tests, prefixes)
    for prefix in prefixes:
        if not any(g.startswith('  - name: "' + prefix) for g in kept):
            raise AssertionError("no test group named %s... in %s" %
                                 (prefix, tests))


def generate_artifacts(config, out):
    """Runs stemedb_rulegen; returns {artifact: path} of what it wrote."""
    r = subprocess.run([rulegen_binary(), "--config", config, "--out", out],
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise AssertionError("stemedb_rulegen failed (%d):\n%s%s" %
                             (r.returncode, r.stdout, r.stderr))
    paths = {k: os.path.join(out, v) for k, v in ARTIFACTS.items()}
    for k, p in paths.items():
        if not os.path.isfile(p):
            raise AssertionError("stemedb_rulegen wrote no %s at %s" % (k, p))
    return paths


def scrape_job(target, job="stemedb_disk"):
    return {"job_name": job, "static_configs": [{"targets": [target]}]}
