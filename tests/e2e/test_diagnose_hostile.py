#!/usr/bin/env python3
"""e2e_diagnose_hostile: what a stranger can put in front of `diagnose`.

Terminal escapes: a directory whose name holds ESC sequences (set the
window title, clear the screen, print a green "ALL OK"), a C1 CSI and DEL,
under a root whose own name holds ESC. `diagnose`'s text output, from a
local walk and from a running exporter's /diagnose, must carry none of
them raw: each is written as a visible escape (\\x1b, \\u009b).

Deep JSON: a server answering /diagnose with 16 MiB of "[" or a valid
8M-deep array once took `diagnose --from` to 1.2 GB and 0.6 GB. Both must
be refused with the position, exit 3 (UNKNOWN), in bounded memory (the
child's peak RSS from wait4).
"""
import http.server
import os
import re
import subprocess
import tempfile
import threading
import unittest

import e2e_lib as e2e

# Title, clear screen, a fake green verdict; then a C1 CSI (U+009B) and DEL.
HOSTILE = ("evil\x1b]0;pwned\x07\x1b[2J\x1b[H\x1b[32mALL OK\x1b[0m"
           "\u009b31m\x7fend")
ROOT_NAME = "root\x1b[2J"


def raw_controls(text):
    """The control characters (C0 but newline, DEL, C1) left in `text`."""
    return sorted({"U+%04X" % ord(c) for c in text
                   if (ord(c) < 0x20 and c != "\n") or 0x7F <= ord(c) <= 0x9F})


class TerminalEscapesTest(e2e.WorkdirTestCase):

    WORKDIR_PREFIX = "e2e-diag-esc-"

    def setUp(self):
        super().setUp()
        self.root = os.path.join(self.work, ROOT_NAME)
        e2e.make_demo_tree(self.root)
        # The largest directory of all, so every top list names it.
        e2e.write_file(os.path.join(self.root, "data", "db", HOSTILE, "big"),
                       8 << 20)
        self.config = os.path.join(self.work, "stemedb.yaml")
        e2e.write_text(self.config, e2e.config_yaml("/"))

    def diagnose(self, *args):
        r = subprocess.run([e2e.exporter_binary(), "diagnose",
                            "--format", "text"] + list(args),
                           capture_output=True, timeout=120)
        self.assertIn(r.returncode, (0, 1, 2), r.stderr)
        return r.stdout.decode("utf-8")  # raises if not UTF-8

    def check(self, text):
        self.assertEqual(raw_controls(text), [], text)
        # The name is there, visibly (long paths lose their middle).
        self.assertIn("ALL OK\\x1b[0m\\u009b31m\\x7fend\n", text)
        self.assertIn("root\\x1b[2J", text)

    def test_local_walk(self):
        self.check(self.diagnose("--config", self.config, "--root",
                                 self.root))

    def test_from_a_running_exporter(self):
        exporter = e2e.Exporter(self.work, [
            "--config", self.config, "--root", self.root])
        self.addCleanup(exporter.close)
        url = "http://127.0.0.1:%d" % exporter.port
        # The first walk's numbers, with the top lists, are what it serves.
        def served():
            text = self.diagnose("--from", url)
            return "x7fend" in text and text
        self.check(e2e.wait_until(served, 60, "the hostile directory in "
                                  "diagnose --from"))


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True


def serve(bodies):
    """A loopback server answering GET /NAME/diagnose with bodies[NAME]."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = bodies[self.path.split("/")[1]]
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client may stop reading early

        def log_message(self, *args):
            pass

    server = _Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class DeepJsonTest(unittest.TestCase):
    # The unfixed parser took 639 MB and 1.27 GB; the body alone is 16 MiB.
    MAX_RSS_BYTES = 200 << 20

    def setUp(self):
        depth = 8 << 20
        self.server = serve({"open": b"[" * (16 << 20),
                             "deep": b"[" * depth + b"]" * depth})
        self.addCleanup(self.server.server_close)
        self.addCleanup(self.server.shutdown)

    def diagnose_from(self, name):
        url = "http://127.0.0.1:%d/%s" % (self.server.server_port, name)
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            p = subprocess.Popen([e2e.exporter_binary(), "diagnose", "--from",
                                  url], stdout=out, stderr=err)
            _, status, usage = os.wait4(p.pid, 0)
            p.returncode = os.waitstatus_to_exitcode(status)
            err.seek(0)
            return p.returncode, err.read().decode("utf-8"), usage, url

    def test_refused_with_position_in_bounded_memory(self):
        for name in ("open", "deep"):
            with self.subTest(name):
                rc, err, usage, url = self.diagnose_from(name)
                self.assertLess(usage.ru_maxrss * 1024, self.MAX_RSS_BYTES,
                                "peak RSS %d KiB" % usage.ru_maxrss)
                self.assertEqual(rc, 3, err)
                self.assertRegex(err, re.escape(url) + r"/diagnose:1:\d+: "
                                 r"not a diagnosis: .*nested deeper than")


if __name__ == "__main__":
    e2e.run_main()
