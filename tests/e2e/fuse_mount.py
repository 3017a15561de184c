#!/usr/bin/env python3
"""A FUSE filesystem served by a process the test can stop: a hung mount.

A filesystem whose server stops answering is what a hung NFS or sshfs
mount is to its clients: statfs(2), open and stat on it wait in the kernel
for an answer that does not come. FUSE makes that real on one machine with
no network: the kernel forwards every request on the mount to this
process through /dev/fuse, so SIGSTOP on it hangs every statfs on the
mount, and SIGCONT lets the queued requests through.

    python3 fuse_mount.py MOUNTPOINT    # mounts, serves until killed

It speaks the kernel's FUSE protocol directly (no libfuse or fusermount
needed, only root and /dev/fuse): an empty, read-only root directory owned
by root, and a statfs answer of STATFS_BLOCKS blocks, all free. The mount
has allow_other, so an exporter running as another user sees its numbers
(the kernel answers zeros to others). When the process dies the kernel
aborts the connection (ENOTCONN); the caller unmounts.

FuseMount starts it as a child and waits until the mount answers.
"""
import ctypes
import errno
import os
import signal
import stat
import struct
import subprocess
import sys

import e2e_lib as e2e

STATFS_BLOCKS = 4242
BLOCK_SIZE = 4096
FILES = 1000
MAX_WRITE = 128 * 1024

# Opcodes (linux/fuse.h).
LOOKUP, FORGET, GETATTR, STATFS = 1, 2, 3, 17
RELEASE, FLUSH, INIT, OPENDIR, READDIR, RELEASEDIR = 18, 25, 26, 27, 28, 29
FSYNCDIR, ACCESS, INTERRUPT, BATCH_FORGET = 30, 34, 36, 42
NO_REPLY = (FORGET, BATCH_FORGET, INTERRUPT)

IN_HEADER = struct.Struct("<IIQQIIIHH")  # len opcode unique nodeid uid...
OUT_HEADER = struct.Struct("<IiQ")       # len error unique
ROOT_INODE = 1
ONE_DAY = 86400


def root_attr():
    """fuse_attr_out of the root: valid for a day, a 0755 directory."""
    return struct.pack("<QII", ONE_DAY, 0, 0) + struct.pack(
        "<QQQQQQIIIIIIIIII", ROOT_INODE, 0, 0, 0, 0, 0, 0, 0, 0,
        stat.S_IFDIR | 0o755, 2, 0, 0, 0, BLOCK_SIZE, 0)


def init_reply(body):
    major, minor, max_readahead, _ = struct.unpack_from("<IIII", body)
    if major != 7:
        raise SystemExit("FUSE protocol %d.%d: this server speaks 7.x" %
                         (major, minor))
    # fuse_init_out of protocol 7.31: no optional features asked for.
    out = struct.pack("<IIIIHHIIHHII", 7, min(minor, 31), max_readahead, 0,
                      16, 12, MAX_WRITE, 1, 0, 0, 0, 0)
    return out.ljust(64, b"\0")


def statfs_reply():
    # fuse_kstatfs: blocks bfree bavail files ffree bsize namelen frsize.
    return struct.pack("<QQQQQIIII", STATFS_BLOCKS, STATFS_BLOCKS,
                       STATFS_BLOCKS, FILES, FILES - 1, BLOCK_SIZE, 255,
                       BLOCK_SIZE, 0).ljust(80, b"\0")


def answer(opcode, body):
    """(error, payload) for a request."""
    if opcode == INIT:
        return 0, init_reply(body)
    if opcode == GETATTR:
        return 0, root_attr()
    if opcode == STATFS:
        return 0, statfs_reply()
    if opcode == OPENDIR:
        return 0, struct.pack("<QII", 0, 0, 0)  # fuse_open_out
    if opcode in (READDIR, RELEASEDIR, RELEASE, FLUSH, FSYNCDIR, ACCESS):
        return 0, b""  # an empty directory; nothing to release
    if opcode == LOOKUP:
        return -errno.ENOENT, b""
    return -errno.ENOSYS, b""


def serve(fd):
    while True:
        try:
            request = os.read(fd, MAX_WRITE + 64 * 1024)
        except OSError as e:
            if e.errno in (errno.EINTR, errno.ENOENT, errno.EAGAIN):
                continue  # interrupted, or a request withdrawn
            if e.errno == errno.ENODEV:
                return  # unmounted
            raise
        _, opcode, unique, _, _, _, _, _, _ = IN_HEADER.unpack_from(request)
        if opcode in NO_REPLY:
            continue
        error, payload = answer(opcode, request[IN_HEADER.size:])
        os.write(fd, OUT_HEADER.pack(OUT_HEADER.size + len(payload), error,
                                     unique) + payload)


def mount_and_serve(mountpoint):
    fd = os.open("/dev/fuse", os.O_RDWR)
    libc = ctypes.CDLL(None, use_errno=True)
    options = "fd=%d,rootmode=40000,user_id=0,group_id=0,allow_other" % fd
    ms_nosuid, ms_nodev = 2, 4
    if libc.mount(b"stemedb-test", mountpoint.encode(), b"fuse.stemedb-test",
                  ms_nosuid | ms_nodev, options.encode()) != 0:
        raise SystemExit("mount %s: %s" % (
            mountpoint, os.strerror(ctypes.get_errno())))
    serve(fd)


class FuseMount:
    """This file's server as a child process, serving a FUSE mount at
    `mountpoint` (a directory the caller made), ready when constructed:
    statvfs answers STATFS_BLOCKS. stop()/resume() are SIGSTOP/SIGCONT.
    close() kills the server and unmounts; the test adds it to its
    cleanup. REQUIRES: root, /dev/fuse, a private mount namespace."""

    def __init__(self, workdir, mountpoint, timeout=60):
        if not os.path.exists("/dev/fuse"):
            raise AssertionError("no /dev/fuse: the hung mount needs FUSE")
        self.mountpoint = mountpoint
        self.process = e2e.Process(
            [sys.executable, os.path.abspath(__file__), mountpoint],
            os.path.join(workdir, "fuse-server.log"))
        try:
            e2e.wait_until(self._answers, timeout,
                           "the FUSE mount at %s to answer" % mountpoint)
        except BaseException:
            self.close()
            raise

    def _answers(self):
        if not self.process.alive():
            raise e2e.ExitedEarly("FUSE server exited with %s:\n%s" % (
                self.process.proc.returncode, self.process.log()))
        return (e2e.mountpoint_of(self.mountpoint) == self.mountpoint and
                os.statvfs(self.mountpoint).f_blocks == STATFS_BLOCKS)

    def stop(self):
        self.process.signal(signal.SIGSTOP)  # requests queue, unanswered

    def resume(self):
        self.process.signal(signal.SIGCONT)

    def close(self):
        if self.process.alive():
            self.process.proc.kill()  # stopped or not
        self.process.close()
        subprocess.run(["umount", "-l", self.mountpoint], check=False,
                       capture_output=True)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: fuse_mount.py MOUNTPOINT")
    mount_and_serve(sys.argv[1])
