"""The simulated fleet: one Node per host, advanced step by step.

A node holds the StemeDB layout on a data filesystem mounted on /data (the runbook's):
components wal, db, backups, logs and tmp, sized and counted as the disk
exporter reports them, and the filesystem's statfs numbers as both the disk
exporter and node_exporter on the same host report them. Its kind picks a
scenario (see SCENARIOS); the healthy default has diurnal ingest, WAL
segments cleaned after 7 days, nightly backups kept 7 deep, a daily
compaction and log rotation, with noise.

Step() advances one step and returns the samples of that step as
{(family, labels-tuple): value}; a family missing from the dict has no
sample at that step (exporter down, node not yet started, mount hung).
Incidents are recorded in node.incidents as the scenario plays out.
"""
import collections
import operator
import random

GIB = 1024 ** 3
MIB = 1024 ** 2
DAY = 86400
HOUR = 3600

DATA_MOUNT = "/data"  # the runbook's data volume (df -h /data)
WAL_MOUNT = "/data/wal"
COMPONENTS = ("wal", "db", "backups", "logs", "tmp")
SEGMENTED = ("wal", "backups")
STEMEDB_JOB = "stemedb_disk"
NODE_JOB = "node"
EXT4_RESERVED = 0.05  # root-reserved blocks: avail = free - 5 % of size
BYTES_PER_INODE = 16384  # mkfs.ext4 default inode ratio

# Scenario kinds: (description, is it an incident?)
SCENARIOS = {
    "healthy": "steady diurnal ingest, 7-day WAL retention, 7 nightly "
               "backups, daily compaction",
    "steady_fill": "ingest grows until the disk is full over ~4.5 days; "
                   "the volume is expanded 2 h after it filled",
    "burst": "a bulk import writes 30 % of the disk in one hour and fills "
             "it; removed 1 h after",
    "backup_spike": "nightly backup of ~22 % of the disk, uploaded "
                    "off-host and removed within the hour (no backups "
                    "kept on the host)",
    "compaction_sawtooth": "the database grows 12 % of the disk in 6 h, "
                           "then compaction drops it back, four times a day",
    "new_node": "a node that joins mid-month with an empty disk and "
                "restores 25 % of it in 3 h",
    "wal_volume": "the WAL on a dedicated 40 GiB volume, ~55 % used by "
                  "design (256 MiB segments)",
    "wal_cleanup_stops": "WAL cleanup stops (runbook Common Cause 1); the "
                         "WAL grows until the disk is full; cleaned 1 h "
                         "after",
    "inode_exhaustion": "a failed operation leaves small files in tmp "
                        "until no inode is free; deleted 1 h after",
    "readonly_remount": "ext4 errors=remount-ro: the filesystem turns "
                        "read-only for 5 h, numbers frozen",
    "hung_statfs": "statfs hangs for 3 h: stat_success 0, stale numbers, "
                   "walks time out; node_exporter reports device_error",
    "exporter_down": "the disk exporter is down for 2 h (up 0, no samples)",
    "unreadable_dir": "a database subdirectory cannot be read for 30 h: "
                      "sizes silently too small, unaccounted entries > 0",
    "reload_failed": "a configuration reload fails; fixed 4 h later",
}

_SECOND = operator.itemgetter(1)


def _total(segments):
    return sum(map(_SECOND, segments))


class Node:
    def __init__(self, index, kind, t0, step, days, rng_seed):
        self.name = "node-%02d" % index
        self.kind = kind
        self.t0 = t0
        self.step = step
        self.days = days
        self.rng = random.Random(rng_seed)
        r = self.rng
        self.incidents = []
        self.size = r.choice((100, 200, 200, 500)) * GIB
        if kind in ("burst", "steady_fill", "wal_cleanup_stops"):
            self.size = 200 * GIB
        self.files_total = self.size // BYTES_PER_INODE
        self.device = "/dev/nvme1n1"
        self.wal_dedicated = kind == "wal_volume"
        self.wal_size = 40 * GIB
        # Start of the node's life (new_node joins on day 40 % of the range).
        self.start = t0
        if kind == "new_node":
            self.start = t0 + int(days * 0.4) * DAY + 9 * HOUR
        self.up_stemedb = True
        # Component state.
        used_target = r.uniform(0.25, 0.55)
        if kind == "compaction_sawtooth":
            used_target = 0.52
        if kind == "backup_spike":
            used_target = 0.40
        if kind == "burst":
            used_target = 0.60
        if kind == "new_node":
            used_target = 0.0
        self.wal_rate = r.uniform(0.3, 0.8) * GIB / DAY  # bytes per second
        self.segment_bytes = 64 * MIB
        if self.wal_dedicated:
            self.wal_rate = 3.2 * GIB / DAY
            self.segment_bytes = 256 * MIB
        self.backup_fraction = 0.02  # of the disk, per backup
        self.logs = r.uniform(0.5, 2.0) * GIB
        self.logs_rate = r.uniform(0.05, 0.2) * GIB / DAY
        self.tmp = r.uniform(10, 200) * MIB
        self.tmp_files = r.randint(5, 300)
        self.db_growth = r.uniform(0.0005, 0.002) * self.size / DAY
        # WAL segments: deque of [mtime, bytes]; prefilled with 7 days.
        self.wal = collections.deque()
        self.backups = collections.deque()
        if kind != "new_node":
            t = t0 - 7 * DAY
            while t < t0:
                self.wal.append([t, self.segment_bytes])
                t += self.segment_bytes / self.wal_rate
            if kind != "backup_spike":
                for d in range(7, 0, -1):
                    day = t0 - d * DAY
                    self.backups.append(
                        [day - day % DAY + 2 * HOUR + 1200,
                         self.backup_fraction * self.size])
        self.wal_cleanup = True
        wal_bytes = _total(self.wal)
        on_fs = 0 if self.wal_dedicated else wal_bytes
        self.db = max(0.0, used_target * self.size - on_fs -
                      _total(self.backups) - self.logs)
        self.db_extra = 0.0  # scenario bytes in db (import, sawtooth)
        self.db_hidden = 0.0  # bytes the walk cannot see
        self.fs_overhead = 0.015 * self.size
        # Failure state.
        self.readonly = False
        self.stat_hung = False
        self.last_stat = None
        self.last_scan_ok = {c: t0 for c in COMPONENTS}
        self.reload_ok = True
        self.unreadable = False
        self.pending_backup = None  # [start, bytes, done_at]
        # The incident whose full or read-only disk prevented a nightly
        # backup, until the next one completes.
        self.missed_backup = None
        self._plan()

    # ------------------------------------------------------------- plan
    def _at(self, day_fraction, hour):
        """Unix time of day int(days*day_fraction) at the given hour."""
        return self.t0 + int(self.days * day_fraction) * DAY + int(hour *
                                                                   HOUR)

    def _plan(self):
        k = self.kind
        r = self.rng
        self.fill_start = None
        if k == "steady_fill":
            self.fill_start = self._at(0.25, 8.5)
            self.fill_rate = None  # set at fill start: ~4.5 days to full
        elif k == "burst":
            self.fill_start = self._at(0.5, 10 + r.random())
            self.burst_rate = 0.30 * self.size / HOUR
        elif k == "wal_cleanup_stops":
            self.fill_start = self._at(0.2, 13)
            self.wal_rate_after = 5.5 * GIB / DAY
        elif k == "inode_exhaustion":
            self.fill_start = self._at(0.3, 9)
            self.files_rate = None
        elif k == "readonly_remount":
            self.window = (self._at(0.55, 4.2), 5 * HOUR)
        elif k == "hung_statfs":
            self.window = (self._at(0.65, 9.3), 3 * HOUR)
        elif k == "exporter_down":
            self.window = (self._at(0.72, 15.1), 2 * HOUR)
        elif k == "unreadable_dir":
            self.window = (self._at(0.36, 10.4), 30 * HOUR)
        elif k == "reload_failed":
            self.window = (self._at(0.8, 11.2), 4 * HOUR)
        if hasattr(self, "window"):
            s, d = self.window
            self.incidents.append({"node": self.name, "kind": k,
                                   "start": s, "end": s + d})
        self.fill_incident = None

    # ------------------------------------------------------------ usage
    def _used_on_data(self):
        wal = 0 if self.wal_dedicated else _total(self.wal)
        return (self.fs_overhead + self.db + self.db_extra + wal +
                _total(self.backups) + self.logs + self.tmp)

    def _avail(self):
        return (self.size * (1 - EXT4_RESERVED) - self._used_on_data())

    def _files_used(self):
        return (2000 + int(self.db / (32 * MIB)) + len(self.wal) *
                (0 if self.wal_dedicated else 1) + len(self.backups) * 40 +
                200 + self.tmp_files)

    # ------------------------------------------------------------- step
    def step_to(self, t):
        """Advances the node's state to time t (one step after the last)."""
        if t < self.start:
            return
        dt = self.step
        hour = (t % DAY) / HOUR
        diurnal = 1.0 + 0.5 * (1 if 8 <= hour < 20 else -1)
        writable = not self.readonly
        room = self._avail()
        if writable and room > 0:
            self._grow(t, dt, diurnal, hour)
        elif self._backup_due(t, hour) and self.missed_backup is None:
            # The nightly backup cannot be written: a consequence of the
            # incident under way, until the next backup completes.
            self.missed_backup = self._incident_at(t)
        self._scenarios(t, dt, hour)
        self._clamp(t)

    def _grow(self, t, dt, diurnal, hour):
        r = self.rng
        if self.kind == "new_node" and t < self.start + 3 * HOUR:
            self.db += 0.25 * self.size * dt / (3 * HOUR)
        self.db += self.db_growth * dt * diurnal * r.uniform(0.2, 1.8)
        # WAL: append to the current segment, open a new one when full.
        rate = self.wal_rate
        if self.fill_start and self.kind == "wal_cleanup_stops" and \
                t >= self.fill_start:
            rate = self.wal_rate_after
        written = rate * dt * diurnal * r.uniform(0.5, 1.5)
        if not self.wal or self.wal[-1][1] >= self.segment_bytes:
            self.wal.append([t, 0.0])
        self.wal[-1][0] = t
        self.wal[-1][1] = min(self.segment_bytes, self.wal[-1][1] + written)
        # Cleanup every 10 minutes: segments older than 7 days.
        if self.wal_cleanup and t % 600 < dt:
            while len(self.wal) > 1 and self.wal[0][0] < t - 7 * DAY:
                self.wal.popleft()
        # Daily compaction at 03:00 reclaims 2 % of the database.
        if 3.0 <= hour < 3.0 + dt / HOUR:
            self.db *= 0.98 if self.kind != "new_node" else 1.0
        self.logs += self.logs_rate * dt * r.uniform(0.5, 1.5)
        if t % (7 * DAY) < dt:  # weekly rotation
            self.logs *= 0.3
        self.tmp = max(0.0, self.tmp + r.gauss(0, 2 * MIB))
        self.tmp_files = max(0, self.tmp_files + r.randint(-3, 3))
        self._backup(t, hour)

    def _backup_due(self, t, hour):
        """The nightly backup starts at this step: 02:00 (01:30 for
        off-host backups)."""
        start_hour = 1.5 if self.kind == "backup_spike" else 2.0
        return self.pending_backup is None and start_hour <= hour < \
            start_hour + self.step / HOUR and t > self.start + HOUR

    def _incident_at(self, t):
        for inc in self.incidents:
            if inc["start"] <= t and t < inc.get("end", float("inf")):
                return inc
        return None

    def _backup(self, t, hour):
        """Nightly backup: written over 20 minutes from 02:00 (01:30 for
        off-host backups), the oldest beyond 7 deleted after. The first
        one after a backup an incident prevented ends its aftermath."""
        if self._backup_due(t, hour):
            frac = 0.22 if self.kind == "backup_spike" else \
                self.backup_fraction
            self.pending_backup = [t, frac * self.size]
            self.backups.append([t, 0.0])
        pb = self.pending_backup
        if pb is None:
            return
        written_for = 25 * 60 if self.kind == "backup_spike" else 20 * 60
        progress = min(1.0, (t - pb[0]) / written_for)
        self.backups[-1] = [t if progress < 1 else self.backups[-1][0],
                            pb[1] * progress]
        if progress >= 1:
            if self.kind == "backup_spike":
                if t - pb[0] >= written_for + 30 * 60:  # uploaded: removed
                    self.backups.pop()
                    self.pending_backup = None
            else:
                while len(self.backups) > 7:
                    self.backups.popleft()
                self.pending_backup = None
                if self.missed_backup is not None:
                    self.missed_backup["aftermath_end"] = t
                    self.missed_backup["aftermath"] = (
                        "the nightly backup it prevented, until the next "
                        "one completed")
                    self.missed_backup = None

    def _scenarios(self, t, dt, hour):
        k = self.kind
        r = self.rng
        if k == "compaction_sawtooth":
            phase = (t % (6 * HOUR)) / (6 * HOUR)
            self.db_extra = (0.12 * self.size * min(1.0, phase / 0.97) *
                             (1 if phase < 0.97 else 0) *
                             r.uniform(0.98, 1.02))
        elif k == "steady_fill" and self.fill_start and t >= self.fill_start:
            if self.fill_rate is None:
                self.fill_rate = self._avail() / self._fill_days()
                self._open_fill(t)
            if self.fill_incident and "full" not in self.fill_incident:
                self.db += self.fill_rate * dt * r.uniform(0.6, 1.4)
        elif k == "burst" and self.fill_start and t >= self.fill_start:
            if self.fill_incident is None:
                self._open_fill(t)
            if "full" not in self.fill_incident:
                self.db_extra += self.burst_rate * dt * r.uniform(0.8, 1.2)
        elif k == "wal_cleanup_stops" and t >= self.fill_start:
            if self.fill_incident is None:
                self.wal_cleanup = False
                self._open_fill(t)
        elif k == "inode_exhaustion" and t >= self.fill_start:
            if self.files_rate is None:
                self.files_rate = (self.files_total - self._files_used()) / \
                    (0.7 * self._fill_days())
                self._open_fill(t)
            if "full" not in self.fill_incident:
                n = int(self.files_rate * dt * r.uniform(0.7, 1.3))
                self.tmp_files += n
                self.tmp += n * 4096
        elif hasattr(self, "window"):
            s, d = self.window
            active = s <= t < s + d
            if k == "readonly_remount":
                self.readonly = active
            elif k == "hung_statfs":
                self.stat_hung = active
            elif k == "exporter_down":
                self.up_stemedb = not active
            elif k == "unreadable_dir":
                self.unreadable = active
            elif k == "reload_failed":
                self.reload_ok = not active

    def _fill_days(self):
        """A steady fill takes 4.5 days, less in a short history."""
        return min(4.5, 0.5 * self.days) * DAY

    def _open_fill(self, t):
        self.fill_incident = {"node": self.name, "kind": self.kind,
                              "start": t}
        self.incidents.append(self.fill_incident)

    def _clamp(self, t):
        """Writes stop at full (ENOSPC / no inode); the operator repairs
        an hour or two later and the incident ends."""
        inc = self.fill_incident
        if inc is None:
            return
        if "full" not in inc:
            if self.kind == "inode_exhaustion":
                over = self._files_used() - self.files_total
                if over >= 0:
                    self.tmp_files -= over
                    inc["full"] = t
            elif self._avail() <= 0:
                over = -self._avail()
                if self.kind == "wal_cleanup_stops":
                    self.wal[-1][1] = max(0.0, self.wal[-1][1] - over)
                elif self.kind == "burst":
                    self.db_extra -= over
                else:
                    self.db -= over
                inc["full"] = t
            return
        if "end" in inc:
            return
        repair_after = 2 * HOUR if self.kind == "steady_fill" else HOUR
        if t >= inc["full"] + repair_after:
            inc["end"] = t
            if self.kind == "steady_fill":  # §5: the volume is doubled
                self.size *= 2
                self.files_total = self.size // BYTES_PER_INODE
            elif self.kind == "burst":
                self.db_extra = 0.0
            elif self.kind == "wal_cleanup_stops":
                self.wal_cleanup = True
                while len(self.wal) > 1 and self.wal[0][0] < t - 7 * DAY:
                    self.wal.popleft()
                self.wal_rate = self.wal_rate_after = 0.5 * GIB / DAY
            elif self.kind == "inode_exhaustion":
                self.tmp_files = 50
                self.tmp = 50 * MIB

    # ---------------------------------------------------------- samples
    def samples(self, t):
        """The series of both exporters at time t: a list of
        (family, labels-string, value); empty before the node starts."""
        if t < self.start:
            return []
        out = []
        node_inst = 'instance="%s:9100",job="%s"' % (self.name, NODE_JOB)
        disk_inst = 'instance="%s:9717",job="%s"' % (self.name, STEMEDB_JOB)
        out.append(("up", node_inst, 1))
        out.append(("up", disk_inst, 1 if self.up_stemedb else 0))
        fss = [(DATA_MOUNT, self.device, self.size, self.files_total,
                self._data_statfs())]
        if self.wal_dedicated:
            wal_used = _total(self.wal) + 0.01 * self.wal_size
            files = self.wal_size // BYTES_PER_INODE
            fss.append((WAL_MOUNT, "/dev/nvme2n1", self.wal_size, files,
                        (self.wal_size - wal_used,
                         self.wal_size * (1 - EXT4_RESERVED) - wal_used,
                         files - len(self.wal) - 20)))
        fresh = self._fresh_statfs(fss)
        for mount, device, size, files, (free, avail, ffree) in fresh:
            fsl = 'device="%s",fstype="ext4",mountpoint="%s"' % (device,
                                                                  mount)
            hung = self.stat_hung and mount == DATA_MOUNT
            ro = 1 if self.readonly and mount == DATA_MOUNT else 0
            out.append(("node_filesystem_device_error", node_inst + "," +
                        fsl, 1 if hung else 0))
            if not hung:
                for fam, v in (("size_bytes", size), ("free_bytes", free),
                               ("avail_bytes", avail), ("files", files),
                               ("files_free", ffree), ("readonly", ro)):
                    out.append(("node_filesystem_" + fam,
                                node_inst + "," + fsl, v))
            if self.up_stemedb:
                for fam, v in (("size_bytes", size), ("free_bytes", free),
                               ("avail_bytes", avail), ("files", files),
                               ("files_free", ffree), ("readonly", ro),
                               ("stat_success", 0 if hung else 1)):
                    out.append(("stemedb_disk_filesystem_" + fam,
                                disk_inst + "," + fsl, v))
        if self.up_stemedb:
            out.extend(self._component_samples(t, disk_inst))
            out.append(("stemedb_disk_config_last_reload_successful",
                        disk_inst, 1 if self.reload_ok else 0))
        return out

    def _data_statfs(self):
        free = self.size - self._used_on_data()
        return (free, free - EXT4_RESERVED * self.size,
                self.files_total - self._files_used())

    def _fresh_statfs(self, fss):
        """While statfs hangs the exporter serves the last answer."""
        if self.stat_hung and self.last_stat is not None:
            return [self.last_stat] + fss[1:]
        self.last_stat = fss[0]
        return fss

    def _component_samples(self, t, inst):
        comps = {
            "wal": (_total(self.wal), len(self.wal)),
            "db": (self.db + self.db_extra, self._files_db()),
            "backups": (_total(self.backups),
                        len(self.backups) * 40),
            "logs": (self.logs, 12),
            "tmp": (self.tmp, self.tmp_files),
        }
        if self.unreadable:  # a subdirectory of db cannot be read
            b, f = comps["db"]
            comps["db"] = (b * 0.6, int(f * 0.6))
        out = []
        hung = self.stat_hung
        for c in COMPONENTS:
            cl = inst + ',component="%s"' % c
            on_data = not (c == "wal" and self.wal_dedicated)
            walk_ok = not (hung and on_data and t - self.window[0] > 300)
            if walk_ok and not (hung and on_data):
                self.last_scan_ok[c] = t
            b, f = comps[c]
            out.append(("stemedb_disk_component_allocated_bytes", cl, b))
            out.append(("stemedb_disk_component_files", cl, f))
            out.append(("stemedb_disk_scan_success", cl, 1 if walk_ok else 0))
            out.append(("stemedb_disk_last_scan_success_timestamp_seconds",
                        cl, self.last_scan_ok[c]))
            out.append(("stemedb_disk_scan_unaccounted_entries",
                        cl + ',reason="permission"',
                        1 if (self.unreadable and c == "db") else 0))
            mount, dev = (WAL_MOUNT, "/dev/nvme2n1") if not on_data else \
                (DATA_MOUNT, self.device)
            out.append(("stemedb_disk_component_filesystem_info",
                        cl + ',device="%s",mountpoint="%s"' % (dev, mount), 1))
        for c, segs in (("wal", self.wal), ("backups", self.backups)):
            cl = inst + ',component="%s"' % c
            out.append(("stemedb_disk_segments", cl, len(segs)))
            if segs:
                # Both deques are kept in mtime order.
                out.append(("stemedb_disk_oldest_segment_timestamp_seconds",
                            cl, int(segs[0][0])))
                out.append(("stemedb_disk_newest_segment_timestamp_seconds",
                            cl, int(segs[-1][0])))
        return out

    def _files_db(self):
        return 2000 + int(self.db / (32 * MIB))


def fleet_kinds(nodes):
    """Scenario kinds for a fleet of `nodes`: one of each non-healthy kind,
    then healthy nodes. Fewer nodes than kinds: the first ones in order."""
    kinds = [k for k in SCENARIOS if k != "healthy"]
    if nodes < len(kinds):
        return kinds[:nodes]
    return kinds + ["healthy"] * (nodes - len(kinds))
