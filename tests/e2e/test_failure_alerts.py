#!/usr/bin/env python3
"""e2e_failure_alerts: the real Prometheus and the real vmalert fire the
failure-mode alerts on real mounts, and resolve them.

One exporter, run as uid 65534 (setpriv) in walk mode, on a demo tree
whose root is a tmpfs, with backups/ on a tmpfs of its own and logs/ on a
FUSE mount (in a private mount namespace: run through in_mount_ns.sh, as
root). stemedb_rulegen turns tests/rulegen/data/fast.yaml (5 s and 10 s
`for`s) into the rules; the real Prometheus scrapes the exporter and
evaluates them, and vmagent scrapes it too and remote-writes to a
single-node victoria-metrics that vmalert evaluates the same rule file
against. Both must show the same alerts, one scenario after the other:

- StemeDBFilesystemReadOnly: `mount -o remount,ro` of the backups tmpfs;
  remounting it rw resolves it.
- StemeDBDiskScanIncomplete: a directory of db made 0700, which the
  exporter's uid cannot list (reason permission); 0755 again resolves it.
- StemeDBFilesystemStatFailing: the process serving the FUSE mount is
  stopped (SIGSTOP). That is the real failure, a hung mount, as a hung NFS
  server or a dead sshfs connection makes one: the kernel forwards the
  exporter's statfs(2) on logs/ to a server that does not answer, so the
  call blocks in the kernel, the exporter gives up after
  scan.statfs_timeout and reports stat_success 0 (and keeps serving).
  SIGCONT lets the queued requests through and resolves it. The server is
  tests/e2e/fuse_mount.py, speaking the kernel's FUSE protocol on
  /dev/fuse (no fuse package needed).

Walk mode, so that a permission change is seen by the next walk rather
than depending on what a watch reports for a chmod.
"""
import os
import subprocess
import time

import e2e_lib as e2e
import fuse_mount
import vm_lib as vm

NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
READ_ONLY = "StemeDBFilesystemReadOnly"
STAT_FAILING = "StemeDBFilesystemStatFailing"
INCOMPLETE = "StemeDBDiskScanIncomplete"
FAILURE_ALERTS = (READ_ONLY, STAT_FAILING, INCOMPLETE)
TIMEOUT = 120  # only a hang takes this long
T0 = time.monotonic()


def step(what):
    print("failure_alerts: %5.1f s %s" % (time.monotonic() - T0, what),
          flush=True)


def failures(alerts):
    """{(alertname, mountpoint, component, reason)} of the failure-mode
    alerts among `alerts` (label dicts)."""
    return {(a["alertname"], a.get("mountpoint"), a.get("component"),
             a.get("reason")) for a in alerts
            if a["alertname"] in FAILURE_ALERTS}


class FailureAlertsTest(e2e.TmpfsTestCase):

    WORKDIR_PREFIX = "e2e-failure-alerts-"

    def setUp(self):
        super().setUp()
        if os.geteuid() != 0:
            self.fail("needs root: it mounts FUSE and drops to uid 65534")
        work = self.work
        os.chmod(work, 0o755)  # the exporter's uid must reach the tree
        mnt = os.path.join(work, "mnt")
        self.mount_tmpfs(mnt, "64m", 10000)
        self.root = os.path.join(mnt, "root")
        self.backups = os.path.join(self.root, "backups")
        self.mount_tmpfs(self.backups, "4m", 1000)
        self.logs = os.path.join(self.root, "logs")
        os.makedirs(self.logs)
        self.fuse = fuse_mount.FuseMount(work, self.logs)
        self.addCleanup(self.fuse.close)
        e2e.make_demo_tree(self.root, skip=("logs",))
        self.private = os.path.join(self.root, "data/db/private")
        e2e.write_file(os.path.join(self.private, "shard.kv"), 4096)
        for path in (mnt, self.root, self.private):
            os.chmod(path, 0o755)

        config = e2e.fast_config(work)
        with open(config) as f:
            self.assertTrue(f.read().endswith("scan:\n  interval: 1s\n"))
        with open(config, "a") as f:
            f.write("  mode: walk\n")  # into fast_config's scan section
        rules = e2e.generate_artifacts(config,
                                       os.path.join(work, "gen"))["rules"]
        self.exporter = self.start_exporter(
            ["--config", config, "--root", self.root], wrapper=NOBODY)
        # A failure while the FUSE server is stopped: let the exporter's
        # blocked calls return before it is stopped.
        self.addCleanup(self.fuse.resume)
        self.target = "127.0.0.1:%d" % self.exporter.port
        self.prom = e2e.Prometheus(work, [e2e.scrape_job(self.target)],
                                   rule_files=[rules])
        self.addCleanup(self.prom.close)
        self.vm = vm.start_victoria_metrics(self)
        vm.start_vmagent(self, [self.target], self.vm)
        self.vmalert = vm.start_vmalert(self, [rules], self.vm)

    def prometheus_failures(self):
        return failures([a["labels"] for a in self.prom.firing_alerts()])

    def vmalert_failures(self):
        return failures(vm.vmalert_firing(self.vmalert))

    def wait_both(self, want, what):
        """Waits until Prometheus and vmalert both fire exactly `want` of
        the failure-mode alerts."""
        for name, firing in (("Prometheus", self.prometheus_failures),
                             ("vmalert", self.vmalert_failures)):
            e2e.wait_until(lambda: firing() == want, TIMEOUT,
                           "%s in %s: %s" % (what, name, sorted(want)))
            step("%s in %s" % (what, name))

    def healthy_everywhere(self):
        """stat_success 1 for the three filesystems, in both stores."""
        mounts = {e2e.mountpoint_of(self.root), self.backups, self.logs}
        expr = 'stemedb_disk_filesystem_stat_success{job="stemedb_disk"} == 1'
        return ({s["metric"]["mountpoint"] for s in self.prom.query(expr)}
                == mounts and
                {s["metric"]["mountpoint"]
                 for s in self.vm.api("/api/v1/query", query=expr)["result"]}
                == mounts)

    def test_read_only_incomplete_hung_fire_and_resolve(self):
        e2e.wait_until(self.healthy_everywhere, TIMEOUT,
                       "every filesystem answering statfs, in Prometheus "
                       "and in victoria-metrics")
        step("set up; every filesystem answers in both")
        self.assertEqual(self.prometheus_failures(), set())
        self.assertEqual(self.vmalert_failures(), set())

        subprocess.run(["mount", "-o", "remount,ro", self.backups],
                       check=True)
        os.chmod(self.private, 0o700)
        self.wait_both({(READ_ONLY, self.backups, None, None),
                        (INCOMPLETE, None, "db", "permission")},
                       "read-only backups and db incomplete")
        # Every alert keeps the labels that say where.
        for a in self.prom.firing_alerts() + [
                {"labels": l} for l in vm.vmalert_firing(self.vmalert)]:
            if a["labels"]["alertname"] in FAILURE_ALERTS:
                self.assertEqual(a["labels"]["instance"], self.target, a)
                self.assertEqual(a["labels"]["job"], "stemedb_disk", a)
        subprocess.run(["mount", "-o", "remount,rw", self.backups],
                       check=True)
        os.chmod(self.private, 0o755)
        self.wait_both(set(), "resolved")

        self.fuse.stop()
        self.wait_both({(STAT_FAILING, self.logs, None, None)},
                       "statfs hung on the stopped FUSE mount")
        self.fuse.resume()
        self.wait_both(set(), "resolved once the FUSE server answers")

        # vmalert sent them on, as it sends to Alertmanager.
        self.assertLessEqual(set(FAILURE_ALERTS),
                             self.vmalert.sink.alertnames())
        self.assertTrue(self.exporter.process.alive())


if __name__ == "__main__":
    e2e.run_main()
