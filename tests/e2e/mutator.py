"""A seeded generator of random changes to a StemeDB tree (watch-mode tests).

Mutator(root, {component: path}, seed, sparse_max).run(ops) applies `ops`
operations drawn from WEIGHTS: create, append, truncate, sparse write, hard
link within and across components, rename of files and of directories with
their subtree (across directories, components, and in and out of OUTSIDE, a
directory that belongs to no component), rm -rf, mkdir (also nested and
filled at once), rmdir, chmod 000 and back, symlinks, FIFOs, mtime changes,
the WAL's life (append to the newest segment, roll, drop the oldest), backup
sets made and dropped, bursts of temporary files. It keeps a model of which
entries exist (never of sizes: the truth is measured afterwards, by du and
find), so a seed replays the same operations on the same starting tree.
On a full filesystem (ENOSPC) it deletes things, as an operator would.
"""
import collections
import errno
import mmap
import os
import random
import shutil
import time

import e2e_lib as e2e

OUTSIDE = "outside"  # a directory of the root that is no component


class IndexedSet:
    """A set with O(1) add, remove and random choice, in a deterministic
    order (so that a seed replays the same operations)."""

    def __init__(self):
        self.items = []
        self.index = {}

    def __contains__(self, x):
        return x in self.index

    def __len__(self):
        return len(self.items)

    def add(self, x):
        if x not in self.index:
            self.index[x] = len(self.items)
            self.items.append(x)

    def discard(self, x):
        i = self.index.pop(x, None)
        if i is None:
            return
        last = self.items.pop()
        if i < len(self.items):
            self.items[i] = last
            self.index[last] = i

    def choice(self, rng):
        return self.items[rng.randrange(len(self.items))] if self.items \
            else None


class Mutator:
    """Random operations on the tree under `root`; keeps a model of which
    directories and non-directories exist (never of sizes: the truth is
    measured afterwards, by du and find)."""

    def __init__(self, root, components, seed, sparse_max, use_mmap=True):
        self.root = root
        # Writes through mmap change st_blocks (filling a hole) without an
        # inotify event. Not on a filesystem that can fill up: there a
        # fault on a full tmpfs is SIGBUS, not an error.
        self.use_mmap = use_mmap
        self.components = components  # name -> absolute path
        self.rng = random.Random(seed)
        self.sparse_max = sparse_max
        self.fixed = set(components.values()) | {
            os.path.join(root, OUTSIDE)}
        self.dirs = IndexedSet()
        self.files = IndexedSet()  # regular files
        self.others = IndexedSet()  # symlinks, FIFOs
        self.locked = IndexedSet()  # chmod 000 now
        self.counter = 0
        self.segment = 0
        self.done = collections.Counter()
        self.failed = collections.Counter()
        self.history = collections.deque(maxlen=40)
        self.buf = bytes(range(256)) * 1024
        self.resync()

    # ------------------------------------------------------------ model

    def resync(self):
        """Rebuilds the model from the tree (after an operation failed)."""
        self.dirs, self.files, self.others = (IndexedSet(), IndexedSet(),
                                              IndexedSet())
        for top in sorted(self.fixed):
            self.dirs.add(top)
            for dirpath, dirnames, filenames in os.walk(top):
                dirnames.sort()
                for d in list(dirnames):
                    full = os.path.join(dirpath, d)
                    if os.path.islink(full):
                        self.others.add(full)
                        dirnames.remove(d)
                    else:
                        self.dirs.add(full)
                for f in sorted(filenames):
                    full = os.path.join(dirpath, f)
                    if os.path.isfile(full) and not os.path.islink(full):
                        self.files.add(full)
                    else:
                        self.others.add(full)
        self.locked = IndexedSet()
        for p in self.dirs.items + self.files.items:
            if os.lstat(p).st_mode & 0o777 == 0:
                self.locked.add(p)

    def name(self, prefix="f", suffix=""):
        self.counter += 1
        return "%s%06d%s" % (prefix, self.counter, suffix)

    def component_of(self, path):
        for c, p in self.components.items():
            if path == p or path.startswith(p + "/"):
                return c
        return None

    def rand_dir(self, component=None, other_than=None):
        for _ in range(20):
            d = self.dirs.choice(self.rng)
            c = self.component_of(d)
            if component is not None and c != component:
                continue
            if other_than is not None and c == other_than:
                continue
            return d
        if component is not None:
            return self.components[component]
        return self.dirs.choice(self.rng)

    def target_name(self, dest_dir, is_dir):
        """A fresh name; a segment name sometimes, where one would count."""
        if dest_dir == self.components.get("wal") and not is_dir and \
                self.rng.random() < 0.3:
            return self.name("moved-", ".log")
        if dest_dir == self.components.get("backups") and is_dir and \
                self.rng.random() < 0.3:
            return self.name("stemedb-backup-moved-")
        return self.name("d" if is_dir else "f")

    def size(self):
        r = self.rng.random()
        if r < 0.15:
            return 0
        if r < 0.3:
            return self.rng.choice((1, 511, 512, 4095, 4096, 4097, 8192))
        if r < 0.9:
            return self.rng.randrange(1, 16384)
        return self.rng.randrange(16384, 262144)

    def write_at(self, path, offset, size, flags=os.O_WRONLY):
        fd = os.open(path, flags, 0o644)
        try:
            os.lseek(fd, offset, os.SEEK_SET)
            while size > 0:
                n = os.write(fd, self.buf[:min(size, len(self.buf))])
                size -= n
        finally:
            os.close(fd)

    def move_subtree(self, src, dst):
        """Renames the model's entries below src (src included) to dst."""
        for s in (self.dirs, self.files, self.others, self.locked):
            moved = [p for p in s.items
                     if p == src or p.startswith(src + "/")]
            for p in moved:
                s.discard(p)
                s.add(dst + p[len(src):])

    def drop_subtree(self, path):
        for s in (self.dirs, self.files, self.others, self.locked):
            for p in [p for p in s.items
                      if p == path or p.startswith(path + "/")]:
                s.discard(p)

    def file_to_change(self):
        """A file to write to or touch, or None. Never through a name
        outside every component while the inode has other names: inotify
        reports a change only to the directory of the name used, and no
        watch is there, so the component's names show it only when their
        directory is next read, or at the reconcile walk, which would count
        a difference (docs/design-watch-mode.md, Freshness). Writers of a StemeDB
        tree do not do that; the check wants reconcile differences of 0."""
        path = self.files.choice(self.rng)
        if path and self.component_of(path) is None and \
                os.lstat(path).st_nlink > 1:
            return None
        return path

    # ------------------------------------------------------------ operations

    def op_create(self):
        path = os.path.join(self.rand_dir(), self.name(
            "f", self.rng.choice(("", ".kv", ".tmp", ".log"))))
        self.files.add(path)  # before the write: ENOSPC may leave it empty
        self.write_at(path, 0, self.size(), os.O_WRONLY | os.O_CREAT |
                      os.O_EXCL)

    def op_append(self):
        path = self.file_to_change()
        if path:
            self.write_at(path, 0, self.size(), os.O_WRONLY | os.O_APPEND)

    def op_truncate(self):
        path = self.file_to_change()
        if path:
            size = os.lstat(path).st_size
            os.truncate(path, self.rng.randrange(0, max(1, 2 * size + 4096)))

    def op_sparse(self):
        path = self.file_to_change()
        if path:
            self.write_at(path, self.rng.randrange(0, self.sparse_max),
                          self.rng.randrange(1, 8192))

    def op_mmap_write(self):
        """Stores through a shared mapping into a hole of a sparse file:
        blocks get allocated with no write(2), so no IN_MODIFY."""
        path = self.file_to_change()
        if not path or not self.use_mmap:
            return
        fd = os.open(path, os.O_RDWR)
        try:
            size = os.fstat(fd).st_size
            if size < 2 * mmap.PAGESIZE:
                os.ftruncate(fd, 64 * mmap.PAGESIZE)  # a hole to fill
                size = 64 * mmap.PAGESIZE
            with mmap.mmap(fd, size) as m:
                for _ in range(self.rng.randrange(1, 8)):
                    at = self.rng.randrange(0, size)
                    m[at] = 0x6d
                m.flush()
        finally:
            os.close(fd)

    def op_link_within(self):
        src = self.files.choice(self.rng)
        if src and self.component_of(src):
            dst = os.path.join(self.rand_dir(self.component_of(src)),
                               self.name("l"))
            os.link(src, dst)
            self.files.add(dst)

    def op_link_across(self):
        src = self.files.choice(self.rng)
        if src:
            dst = os.path.join(self.rand_dir(other_than=self.component_of(
                src)), self.name("l"))
            os.link(src, dst)
            self.files.add(dst)

    def op_rename_file(self):
        src = self.files.choice(self.rng)
        if not src:
            return
        if self.rng.random() < 0.15 and len(self.files) > 1:
            # Over an existing file: the old inode loses a name.
            dst = self.files.choice(self.rng)
            if dst == src:
                return
        else:
            d = self.rand_dir()
            dst = os.path.join(d, self.target_name(d, False))
        os.rename(src, dst)
        self.files.discard(src)
        self.locked.discard(dst)
        if src in self.locked:
            self.locked.discard(src)
            self.locked.add(dst)
        self.files.add(dst)

    def movable_dir(self):
        for _ in range(20):
            d = self.dirs.choice(self.rng)
            if d not in self.fixed:
                return d
        return None

    def op_rename_dir(self):
        src = self.movable_dir()
        if not src:
            return
        for _ in range(20):
            parent = self.rand_dir()
            if parent != src and not parent.startswith(src + "/"):
                break
        else:
            return
        dst = os.path.join(parent, self.target_name(parent, True))
        os.rename(src, dst)
        self.move_subtree(src, dst)

    def op_rmtree(self):
        d = self.movable_dir()
        if d:
            self.unlock_below(d)
            shutil.rmtree(d)
            self.drop_subtree(d)

    def op_mkdir(self):
        d = os.path.join(self.rand_dir(), self.name("d"))
        os.mkdir(d)
        self.dirs.add(d)

    def make_filled(self, d):
        """Makes directory d and a few files in it at once."""
        os.mkdir(d)
        self.dirs.add(d)
        for _ in range(self.rng.randrange(1, 6)):
            p = os.path.join(d, self.name())
            self.files.add(p)
            self.write_at(p, 0, self.size(), os.O_WRONLY | os.O_CREAT)

    def op_mkdir_filled(self):
        """mkdir -p a/b/c and files in each at once: the files exist before
        a watcher can have added a watch on the new directories."""
        d = self.rand_dir()
        for _ in range(self.rng.randrange(1, 4)):
            d = os.path.join(d, self.name("n"))
            self.make_filled(d)

    def op_swap_dirs(self):
        """mv a t && mv b a && mv t b: each name comes to hold the other
        directory (a release directory swapped in)."""
        a, b = self.movable_dir(), self.movable_dir()
        if not a or not b or a == b or a.startswith(b + "/") or \
                b.startswith(a + "/"):
            return
        t = os.path.join(os.path.dirname(a), self.name("swap"))
        for src, dst in ((a, t), (b, a), (t, b)):
            os.rename(src, dst)
            self.move_subtree(src, dst)

    def op_remake_dir(self):
        """rm -rf d && mkdir d, filled at once: the name holds another
        directory (on ext4 often with the same inode number)."""
        d = self.movable_dir()
        if d:
            self.unlock_below(d)
            shutil.rmtree(d)
            self.drop_subtree(d)
            self.make_filled(d)

    def op_rmdir(self):
        d = self.movable_dir()
        if d:
            try:
                os.rmdir(d)
            except OSError as e:
                if e.errno != errno.ENOTEMPTY:
                    raise
                self.done["rmdir-not-empty"] += 1
                return
            self.dirs.discard(d)
            self.locked.discard(d)

    def op_chmod_000(self):
        p = self.dirs.choice(self.rng) if self.rng.random() < 0.5 else \
            self.files.choice(self.rng)
        if p and p not in self.fixed:
            os.chmod(p, 0)
            self.locked.add(p)

    def op_chmod_back(self):
        p = self.locked.choice(self.rng)
        if p:
            os.chmod(p, 0o755 if os.path.isdir(p) else 0o644)
            self.locked.discard(p)

    def unlock_below(self, top):
        for p in [p for p in self.locked.items
                  if p == top or p.startswith(top + "/")]:
            os.chmod(p, 0o755 if os.path.isdir(p) else 0o644)
            self.locked.discard(p)

    def unlock_all(self):
        for p in list(self.locked.items):
            os.chmod(p, 0o755 if os.path.isdir(p) else 0o644)
        self.locked = IndexedSet()

    def op_symlink(self):
        d = self.rand_dir()
        p = os.path.join(d, self.name("s"))
        target = self.rng.choice([self.files.choice(self.rng) or "x",
                                  "dangling-" + "x" * self.rng.randrange(80)])
        os.symlink(target, p)
        self.others.add(p)

    def op_fifo(self):
        p = os.path.join(self.rand_dir(), self.name("p"))
        os.mkfifo(p)
        self.others.add(p)

    def op_remove(self):
        s = self.files if self.rng.random() < 0.8 else self.others
        p = s.choice(self.rng)
        if p:
            os.unlink(p)
            s.discard(p)
            self.locked.discard(p)

    def op_touch(self):
        """An mtime change alone (segment ages), into the past or future."""
        p = self.file_to_change() if self.rng.random() < 0.5 else \
            self.dirs.choice(self.rng)
        if p:
            t = time.time() + self.rng.randrange(-30 * 86400, 3600)
            os.utime(p, (t, t), follow_symlinks=False)

    def wal_segments(self):
        wal = self.components["wal"]
        return sorted(n for n in os.listdir(wal)
                      if n.startswith("segment-") and n.endswith(".log"))

    def op_wal_roll(self):
        """The WAL's life: append to the newest, roll, drop the oldest."""
        wal = self.components["wal"]
        segs = self.wal_segments()
        if segs and self.rng.random() < 0.6:
            self.write_at(os.path.join(wal, segs[-1]), 0, self.size(),
                          os.O_WRONLY | os.O_APPEND)
            return
        self.segment += 1
        p = os.path.join(wal, "segment-%06d-%06d.log" % (
            self.segment, self.counter))
        self.files.add(p)
        self.write_at(p, 0, self.size(), os.O_WRONLY | os.O_CREAT)
        if len(segs) > 8:
            old = os.path.join(wal, segs[0])
            if old in self.files:
                os.unlink(old)
                self.files.discard(old)
                self.locked.discard(old)

    def op_backup(self):
        backups = self.components["backups"]
        sets = sorted(n for n in os.listdir(backups)
                      if n.startswith("stemedb-backup-"))
        if len(sets) > 4 and self.rng.random() < 0.5:
            old = os.path.join(backups, sets[0])
            self.unlock_below(old)
            shutil.rmtree(old)
            self.drop_subtree(old)
            return
        d = os.path.join(backups, self.name("stemedb-backup-2026"))
        os.mkdir(d)
        self.dirs.add(d)
        for _ in range(self.rng.randrange(1, 6)):
            p = os.path.join(d, self.name("", ".kv"))
            self.files.add(p)
            self.write_at(p, 0, self.size(), os.O_WRONLY | os.O_CREAT)

    def op_tmp_burst(self):
        """Temporary files made and deleted at once (data/tmp churn)."""
        tmp = self.components["tmp"]
        made = []
        for _ in range(self.rng.randrange(5, 25)):
            p = os.path.join(tmp, self.name("op-", ".tmp"))
            made.append(p)
            self.files.add(p)
            self.write_at(p, 0, self.rng.randrange(0, 4096),
                          os.O_WRONLY | os.O_CREAT)
        for p in made:
            if self.rng.random() < 0.9:
                os.unlink(p)
                self.files.discard(p)

    def clean_up(self):
        """What an operator does on a full disk: delete things."""
        for _ in range(self.rng.randrange(3, 12)):
            self.apply("remove")
        if self.rng.random() < 0.3:
            self.apply("rmtree")

    WEIGHTS = (
        ("create", 18), ("append", 12), ("truncate", 5), ("sparse", 5),
        ("mmap_write", 2), ("link_within", 5), ("link_across", 5),
        ("rename_file", 10), ("rename_dir", 4), ("rmtree", 1), ("mkdir", 6), ("mkdir_filled", 3),
        ("rmdir", 3), ("chmod_000", 3), ("chmod_back", 3), ("symlink", 2),
        ("fifo", 1), ("remove", 8), ("touch", 3), ("wal_roll", 6),
        ("backup", 1), ("tmp_burst", 2), ("swap_dirs", 2), ("remake_dir", 2),
    )

    def apply(self, op):
        self.history.append(op)
        try:
            getattr(self, "op_" + op)()
            self.done[op] += 1
        except OSError as e:
            # A full tmpfs (ENOSPC: blocks or inodes) is part of the test;
            # a name the model had wrong (a write that failed for space
            # left a file behind, or made none) is resynced. Either way the
            # truth is what is on disk afterwards.
            if e.errno not in (errno.ENOSPC, errno.ENOENT, errno.EEXIST):
                raise
            self.failed["%s:%s" % (op, errno.errorcode[e.errno])] += 1
            if e.errno == errno.ENOSPC and op not in ("remove", "rmtree"):
                self.clean_up()
            else:
                self.resync()

    def run(self, ops):
        names = [n for n, _ in self.WEIGHTS]
        weights = [wt for _, wt in self.WEIGHTS]
        for _ in range(ops):
            self.apply(self.rng.choices(names, weights)[0])
        self.unlock_all()

    def summary(self):
        return "ops %s; failed (ENOSPC on a full tmpfs is expected) %s" % (
            dict(sorted(self.done.items())), dict(sorted(self.failed.items())))


def seed_from_env():
    value = os.environ.get("STEMEDB_MUTATION_SEED")
    return int(value) if value else random.SystemRandom().randrange(2**32)


def initial_tree(root, rng):
    e2e.make_demo_tree(root, wal_segments=5, backups=3)
    os.makedirs(os.path.join(root, OUTSIDE, "parked", "deep"))
    for d in ("data/db/shard-01/a", "data/db/shard-02", "logs/archive",
              "backups/other"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
        for i in range(rng.randrange(3, 12)):
            e2e.write_file(os.path.join(root, d, "init-%d" % i),
                           rng.randrange(0, 20000))
    e2e.write_file(os.path.join(root, OUTSIDE, "parked", "deep", "x"), 7000)


