#!/usr/bin/env python3
"""e2e_watch_mutation_*: thousands of random changes, then exact numbers.

A seeded generator changes a StemeDB tree while the exporter runs: create,
append, truncate, sparse write, hard link (within and across components),
rename of files and of directories with their subtree (across directories,
components, and in and out of a directory that belongs to no component),
`rm -rf`, mkdir (also nested and filled at once, before any watch can be
added), rmdir, chmod 000 and back, symlinks, FIFOs, mtime changes, WAL
segment roll (new segment, append, delete the oldest) and backup sets made
and dropped. When it stops, every component number must equal du and find
(see watch_lib's docstring for the truth) and, in watch mode, the reconcile
walk that followed must have found no difference.

The seed is printed at the start and in every failure; rerun one with
STEMEDB_MUTATION_SEED=N (and STEMEDB_MUTATION_OPS=N to change the count).

Two trees: one on the disk holding the build directory (ext4 here), one on a
small tmpfs (size and inode limits, so writes also fail with ENOSPC) mounted
in a private mount namespace (run through in_mount_ns.sh). Each runs in walk
mode and, once the exporter has it, in watch mode; argv picks the class:
    test_watch_mutation.py DiskMutationTest | TmpfsMutationTest
"""
import os
import random
import subprocess
import sys
import tempfile
import time
import unittest

import e2e_lib as e2e
import watch_lib as w
from mutator import Mutator, initial_tree, seed_from_env

SEGMENT_PATTERNS = e2e.SEGMENT_PATTERNS


class MutationBase:
    """One tree, one exporter per mode, rounds of operations then checks."""

    OPS = 2500
    ROUNDS = 3
    SPARSE_MAX = 8 << 20
    MMAP = True

    def make_root(self):
        raise NotImplementedError

    def setUp(self):
        super().setUp()
        self.seed = seed_from_env()
        self.ops = int(os.environ.get("STEMEDB_MUTATION_OPS", self.OPS))
        print("%s: seed %d (STEMEDB_MUTATION_SEED=%d reruns it), %d ops x %d "
              "rounds" % (self.id(), self.seed, self.seed, self.ops,
                          self.ROUNDS), file=sys.stderr, flush=True)

    def fail_with_seed(self, message):
        self.fail("seed %d (rerun: STEMEDB_MUTATION_SEED=%d): %s" %
                  (self.seed, self.seed, message))

    def run_mode(self, mode):
        work, root = self.make_root()
        self.root = root
        rng = random.Random(self.seed)
        initial_tree(root, rng)
        components = {c: os.path.join(root, p)
                      for c, p in e2e.DEFAULT_LAYOUT.items()}
        spec = {c: (p, SEGMENT_PATTERNS.get(c)) for c, p in components.items()}
        config = os.path.join(work, "stemedb-%s.yaml" % mode)
        with open(config, "w") as f:
            # Walk mode rescans every second; watch mode must not need its
            # interval at all, so it is an hour, and reconciles every 2 s.
            f.write(e2e.config_yaml(
                root, interval="1s" if mode == "walk" else "1h",
                extra=w.scan_extra(mode, "2s")))
        # Watch mode reads every directory by name where it can (a real
        # tree's directories of fewer than 256 entries are read whole), so
        # the per-name updates meet every operation here.
        args = ["--config", config]
        if mode == "watch":
            args.append("--testing.watch-per-name-min-entries=0")
        exporter = e2e.Exporter(work, args, name="exp-" + mode)
        self.addCleanup(exporter.close)
        try:
            self.mutate_and_check(mode, exporter, root, components, spec)
        except AssertionError:
            print("--- exporter log (last 4000 bytes):\n%s" %
                  exporter.log()[-4000:], file=sys.stderr)
            raise

    def mutate_and_check(self, mode, exporter, root, components, spec):
        mutator = Mutator(root, components, self.seed, self.SPARSE_MAX,
                          use_mmap=self.MMAP)
        for rnd in range(self.ROUNDS):
            started = time.monotonic()
            mutator.run(self.ops)
            # Writeback allocates blocks (ext4 delayed allocation, extent
            # blocks) up to dirty_expire_centisecs (30 s) later, changing
            # st_blocks without any event. sync makes the counts final now,
            # so du below describes the tree the exporter last saw change
            # (a watcher must still catch what this sync changed).
            os.sync()
            quiet = time.time()
            print("%s round %d: %d ops in %.1fs; so far %s" % (
                mode, rnd, self.ops, time.monotonic() - started,
                mutator.summary()), file=sys.stderr, flush=True)
            want = w.truth(spec)
            self.check_quiet(mode, exporter, components, want, quiet,
                             "round %d, last ops %s" % (
                                 rnd, list(mutator.history)[-12:]))

    def rule_mismatches(self, m):
        """The default cleanup rules that the mutations feed (data/'s *.tmp
        files and empty files, any age) against find and du: in watch mode
        these tallies follow per-name updates too."""
        data = os.path.join(self.root, "data")
        bad = []
        for rule, args in (("tmp_files", [data, "-xdev", "-name", "*.tmp",
                                          "-type", "f"]),
                           ("empty_files", [data, "-xdev", "-type", "f",
                                            "-empty"])):
            count, du = find_du(args)
            # A hard-linked file's bytes count under the name the walk met
            # first, which may be no match: between the files with one
            # name and all of them.
            _, single = find_du(args + ["-links", "1"])
            entries = m.value("stemedb_disk_reclaimable_entries", rule=rule)
            got = m.value("stemedb_disk_reclaimable_bytes", rule=rule)
            if entries != count or got is None or not single <= got <= du:
                bad.append("reclaimable{rule=%s}: entries %r (find: %d), "
                           "bytes %r (du: %d of files with one name, %d of "
                           "all)" % (rule, entries, count, got, single, du))
        return bad

    @staticmethod
    def error_rewalks(metrics):
        return {l["component"]: v for l, v in metrics.series(w.REWALKS)
                if l.get("reason") == "error" and v}

    def check_quiet(self, mode, exporter, components, want, quiet, where):
        names = list(components)
        if mode == "walk":
            w.wait_walk_after(exporter, quiet)
            m = exporter.scrape()
        else:
            # The watcher alone must get there (poll until it does; the
            # reconcile below then proves it was not the reconcile's doing).
            at_quiet = self.error_rewalks(exporter.scrape())
            last = []

            def converged():
                last[:] = w.mismatches(exporter.scrape(), want)
                return not last
            try:
                e2e.wait_until(converged, 60, "watched numbers to equal du")
            except e2e.Timeout:
                self.fail_with_seed("%s: watch mode never reached the "
                                    "truth:\n  %s" % (where,
                                                      "\n  ".join(last)))
            converged_errors = self.error_rewalks(exporter.scrape())
            m = w.wait_reconciles_after(exporter, names, 120)
            # A reconcile that finds a difference walks the component again
            # (a rewalk with reason `error`), which would also hide the
            # difference from the check above: there must be none, ever
            # (the reconcile difference is 0 in every test).
            errors = self.error_rewalks(m)
            if errors:
                self.fail_with_seed(
                    "%s: reconciles found differences (rewalks with reason "
                    "error: %r; at the quiet point %r, when the numbers "
                    "equalled du %r)" % (where, errors, at_quiet,
                                         converged_errors))
            for c in names:
                self.assertEqual(w.mode_of(m, c), "watch", c)
            self.assertGreater(w.total(m, w.EVENTS) or 0, 0,
                               "no events counted")
            reads = {}
            for l, v in m.series("stemedb_disk_watch_directory_reads_total"):
                reads[l["kind"]] = reads.get(l["kind"], 0) + v
            print("watch: events %s, watches %s, reads %s, rewalks %s" % (
                w.total(m, w.EVENTS), w.total(m, w.WATCHES),
                {k: int(v) for k, v in sorted(reads.items())},
                {"%s/%s" % (l["component"], l["reason"]): v
                 for l, v in m.series(w.REWALKS) if v}),
                file=sys.stderr, flush=True)
            for line in [l for l in exporter.log().splitlines()
                         if "rewalk" in l.lower()][-5:]:
                print("  exporter: " + line, file=sys.stderr)
        bad = w.mismatches(m, want) + self.rule_mismatches(m)
        for c in names:
            for name in (w.DIFF_BYTES, w.DIFF_ENTRIES):
                v = m.value(name, component=c)
                if mode == "watch" and v is None:
                    bad.append("%s{component=%s} missing" % (name, c))
                elif v:
                    bad.append("%s{component=%s} = %r after a reconcile "
                               "that started after the quiet point" %
                               (name, c, v))
            if m.value("stemedb_disk_scan_success", component=c) != 1:
                bad.append("scan_success{component=%s} != 1" % c)
        if bad:
            self.fail_with_seed("%s mode, %s:\n  %s" % (mode, where,
                                                        "\n  ".join(bad)))


def find_du(args):
    """(count, du bytes) of the files `find ARGS` lists (a hard-linked
    inode's bytes once, as du counts them)."""
    listed = subprocess.run(["find"] + args + ["-print0"], check=True,
                            capture_output=True).stdout
    count = listed.count(b"\0")
    if count == 0:
        return 0, 0
    du = subprocess.run(["du", "-c", "-s", "--block-size=1",
                         "--files0-from=-"], input=listed, check=True,
                        capture_output=True).stdout.decode()
    return count, int(du.strip().splitlines()[-1].split()[0])


def add_mode_tests(cls):
    for mode in w.modes():
        def test(self, mode=mode):
            self.run_mode(mode)
        test.__name__ = "test_%s_mode" % mode
        setattr(cls, test.__name__, test)
    return cls


@add_mode_tests
class DiskMutationTest(MutationBase, unittest.TestCase):
    """The tree on the disk of the build directory."""

    def make_root(self):
        tmp = w.disk_workdir("e2e-mutation-")
        self.addCleanup(tmp.cleanup)
        root = os.path.join(tmp.name, "root")
        os.makedirs(root)
        return tmp.name, root


@add_mode_tests
class TmpfsMutationTest(MutationBase, e2e.TmpfsTestCase):
    """The tree on a 24 MiB tmpfs with 1,500 inodes: it fills up."""

    MMAP = False  # a store into a hole of a full tmpfs is SIGBUS
    SPARSE_MAX = 4 << 20

    WORKDIR_PREFIX = "e2e-mutation-tmpfs-"

    def make_root(self):
        work = tempfile.mkdtemp(prefix="mode-", dir=self.work)
        root = os.path.join(work, "root")
        self.mount_tmpfs(root, "24m", 1500)
        return work, root


if __name__ == "__main__":
    e2e.run_main()
