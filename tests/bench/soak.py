#!/usr/bin/env python3
"""asanafs soak run (issue 5): mixed reads, writes and listings for --minutes against the emulator.

Starts an asana-emulator on loopback, mounts asanafs over it (in the foreground, so the child's
pid is the daemon's) and lets --workers threads pick random operations until the time is up:

  cp-in      a new file of random size (0 B .. 32 MiB) copied into one of the worker's tasks
  overwrite  new content copied over one of the worker's files
  cp-out     a file (the worker's own or one of the seeded ones) copied out, sha256 checked
  ls-lR      `ls -lR` of the whole workspace; every file the worker owns must be listed
  rm         one of the worker's files removed; it must be gone from the directory
  mv         one of the worker's files renamed, in its task or into its other task
  rsync      (worker 0) `rsync -a` of a local tree into project Sync (folders become tasks),
             some files changed and one added before each run (up to RSYNC_MAX_FILES, then
             only changed)

Every worker owns its own tasks, so each knows exactly what its files must contain. The daemon's
VmRSS, open fds (/proc/PID/fd) and threads are sampled at mount, after a warm-up round (one
operation of every kind per worker: the "start" the drift is measured from), every --sample-s
seconds and at the end, once the emulator has gone quiet. Then everything written is verified:
in the emulator's state (exactly one attachment per expected name, with the expected sha256, and
nothing else in the soak's tasks) and by reading it back through the mount.

Run by hand as root (FUSE); not part of CI. Exit status 0 only if no operation failed, every
file verified, RSS drift < --max-rss-drift percent and the fd count did not grow.

    python3 tests/bench/soak.py --asanafs build/src/cli/asanafs \
        --emulator build/tests/emulator/asana-emulator --minutes 10
"""

import argparse
import hashlib
import json
import os
import pathlib
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree from importing bench.py
HERE = pathlib.Path(__file__).resolve().parent
SOURCE_ROOT = HERE.parents[1]
sys.path.insert(0, str(SOURCE_ROOT / "tests" / "emulator"))
sys.path.insert(0, str(HERE))

from emulator import Emulator  # noqa: E402
from bench import CHILD_ENV, Machine, Mount, write_private  # noqa: E402

KiB, MiB = 1 << 10, 1 << 20
SEEDED = [("s-empty.txt", 0), ("s-one.bin", 1), ("s-4k.bin", 4096), ("s-64k.bin", 65536),
          ("s-1m.bin", MiB), ("s-3m-odd.bin", 3 * MiB + 17), ("s-8m.bin", 8 * MiB),
          ("s-24m.bin", 24 * MiB)]
OPS = {"cp-in": 24, "overwrite": 6, "cp-out": 26, "ls-lR": 10, "rm": 10, "mv": 12, "rsync": 12}
MAX_OWNED = 60  # per worker: beyond this, rm is chosen instead of cp-in
RSYNC_FOLDERS, RSYNC_FILES = 3, 6
# The rsync tree grows by one file per run up to this many, then each run changes files only:
# like MAX_OWNED, the data set stops growing, so RSS is measured over a steady load (an ever
# larger tree is an ever larger listing, not a leak).
RSYNC_MAX_FILES = 60
CMD_TIMEOUT_S = 300


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def sha256_bytes(data):
    return hashlib.sha256(data).hexdigest()


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            block = f.read(4 * MiB)
            if not block:
                return h.hexdigest()
            h.update(block)


class OpFailed(RuntimeError):
    pass


def run(cmd, timeout=CMD_TIMEOUT_S):
    try:
        res = subprocess.run([str(c) for c in cmd], capture_output=True, env=CHILD_ENV,
                             timeout=timeout)
    except subprocess.TimeoutExpired:
        raise OpFailed(f"{' '.join(map(str, cmd))}: no exit within {timeout} s")
    if res.returncode != 0:
        raise OpFailed(f"{' '.join(map(str, cmd))} exited with {res.returncode}: "
                       f"{res.stderr.decode(errors='replace').strip()[:400]}")
    return res.stdout


def seed_world(workers):
    tasks = [{"name": "Seeded", "attachments": [{"name": n, "size": s} for n, s in SEEDED]}]
    for w in range(workers):
        tasks += [{"name": f"Work-{w}-a"}, {"name": f"Work-{w}-b"}]
    return {"workspaces": [{"name": "W", "projects": [{"name": "P", "tasks": tasks},
                                                      {"name": "Sync"}]}]}


class Daemon:
    """Reads /proc for the asanafs process."""

    def __init__(self, pid, cache_dir):
        self.pid = pid
        self.cache_dir = str(cache_dir)

    def sample(self):
        out = {"t": time.time()}
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                key, _, rest = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    out[key] = int(rest.split()[0]) * KiB
                elif key == "Threads":
                    out[key] = int(rest.split()[0])
        kinds = {"socket": 0, "pipe": 0, "cache/staging file": 0, "other": 0}
        for fd in os.listdir(f"/proc/{self.pid}/fd"):
            try:
                target = os.readlink(f"/proc/{self.pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:"):
                kinds["socket"] += 1
            elif target.startswith("pipe:"):
                kinds["pipe"] += 1
            elif target.startswith(self.cache_dir):
                kinds["cache/staging file"] += 1
            else:
                kinds["other"] += 1
        out["fds"] = sum(kinds.values())
        out["fd_kinds"] = kinds
        return out


class Worker:
    def __init__(self, soak, index):
        self.soak = soak
        self.index = index
        self.rng = random.Random(soak.args.seed * 1000 + index)
        self.tasks = [f"Work-{index}-a", f"Work-{index}-b"]
        self.local = soak.workdir / f"worker-{index}"
        self.local.mkdir(parents=True, exist_ok=True)
        self.owned = {}  # (task, name) -> sha256
        self.uncertain = set()  # names a failed write left in an unknown state
        self.seq = 0
        self.rsync_src = self.local / "rsync-src"
        self.rsync_files = {}  # "folder/name" -> sha256 (what project Sync must hold)
        self.counts = {op: 0 for op in OPS}
        self.times = {op: [] for op in OPS}
        self.errors = []
        self.bytes_in = 0
        self.bytes_out = 0
        self.ls_races = 0
        self.history = {}  # (task, name) -> [(time, what)]: for the report of a failure

    # -- helpers ------------------------------------------------------------------------

    def mnt(self, *parts):
        return self.soak.mount.path("W", *parts)

    def new_name(self):
        self.seq += 1
        return f"f{self.index}-{self.seq:05d}.bin"

    def random_size(self):
        r = self.rng.random()
        if r < 0.05:
            return 0
        if r < 0.70:
            return self.rng.randint(1, 64 * KiB)
        if r < 0.96:
            return self.rng.randint(64 * KiB, 4 * MiB)
        return self.rng.randint(8 * MiB, 32 * MiB)

    def make_local(self, size):
        data = self.rng.randbytes(size)
        path = self.local / "in.bin"
        with open(path, "wb") as f:
            f.write(data)
        return path, sha256_bytes(data)

    def note(self, key, what):
        self.history.setdefault(key, []).append((time.strftime("%H:%M:%S"), what))

    def story(self, key):
        """What this worker did to `key`, for the message of a failure."""
        return "; history: " + ", ".join(f"{t} {w}" for t, w in self.history.get(key, [])[-6:])

    def pick_owned(self):
        keys = sorted(self.owned)
        return self.rng.choice(keys) if keys else None

    # -- operations ---------------------------------------------------------------------

    def op_cp_in(self):
        task, name = self.rng.choice(self.tasks), self.new_name()
        src, digest = self.make_local(self.random_size())
        try:
            run(["cp", src, self.mnt("P", task, name)])
        except OpFailed:
            self.uncertain.add((task, name))
            raise
        self.note((task, name), f"cp-in {os.path.getsize(src)} B")
        self.owned[(task, name)] = digest
        self.bytes_in += os.path.getsize(src)

    def op_overwrite(self):
        key = self.pick_owned()
        if key is None:
            return self.op_cp_in()
        src, digest = self.make_local(self.random_size())
        try:
            run(["cp", src, self.mnt("P", *key)])
        except OpFailed as e:
            self.owned.pop(key)
            self.uncertain.add(key)
            raise OpFailed(f"{e}{self.story(key)}")
        self.note(key, f"overwrite {os.path.getsize(src)} B")
        self.owned[key] = digest
        self.bytes_in += os.path.getsize(src)

    def op_cp_out(self):
        if self.owned and self.rng.random() < 0.6:
            key = self.pick_owned()
            digest = self.owned[key]
        else:
            name, _ = self.rng.choice(SEEDED)
            key = ("Seeded", name)
            digest = self.soak.seeded_sha[name]
        dest = self.local / "out.bin"
        try:
            try:
                run(["cp", self.mnt("P", *key), dest])
            except OpFailed as e:
                raise OpFailed(f"{e}{self.story(key)}")
            got = sha256_file(dest)
            self.bytes_out += os.path.getsize(dest)
        finally:
            dest.unlink(missing_ok=True)
        if got != digest:
            raise OpFailed(f"cp-out of {'/'.join(key)}: sha256 {got[:12]}, expected {digest[:12]}"
                           f"{self.story(key)}")

    def op_ls(self):
        cmd = ["ls", "-lR", self.soak.mount.path("W")]
        try:
            res = subprocess.run(cmd, capture_output=True, env=CHILD_ENV, timeout=CMD_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise OpFailed(f"ls -lR: no exit within {CMD_TIMEOUT_S} s")
        err = res.stderr.decode(errors="replace").splitlines()
        # Another worker may remove or rename a file between ls's readdir and its lstat, as on
        # any file system; that is the only complaint accepted, and only for others' tasks.
        # ls -l reports a file gone before its lstat as "cannot access 'F'", one gone before
        # its ACL/xattr check as "F: No such file or directory".
        mine = [self.mnt("P", t) + "/" for t in self.tasks]

        def vanished(line):
            for head, tail in (("ls: cannot access '", "': No such file or directory"),
                               ("ls: ", ": No such file or directory")):
                if line.startswith(head) and line.endswith(tail):
                    path = line[len(head):len(line) - len(tail)]
                    return not any(path.startswith(m) for m in mine)
            return False
        bad = [line for line in err if not vanished(line)]
        if bad or (res.returncode != 0 and not err):
            raise OpFailed(f"ls -lR exited with {res.returncode}: {' | '.join(bad)[:400]}")
        self.ls_races += len(err)
        listed = set(res.stdout.decode(errors="replace").split())
        missing = [f"{t}/{n}" for t, n in self.owned if n not in listed]
        if missing:
            first = missing[0].split("/")
            raise OpFailed(f"ls -lR does not list {len(missing)} file(s), e.g. {missing[:3]}"
                           f"{self.story(tuple(first))}")

    def op_rm(self):
        key = self.pick_owned()
        if key is None:
            return self.op_cp_in()
        try:
            os.unlink(self.mnt("P", *key))
        except OSError as e:
            self.owned.pop(key)
            self.uncertain.add(key)
            raise OpFailed(f"rm {'/'.join(key)}: {e}")
        self.owned.pop(key)
        self.note(key, "rm")
        if key[1] in os.listdir(self.mnt("P", key[0])):
            self.uncertain.add(key)
            raise OpFailed(f"rm {'/'.join(key)}: still listed")

    def op_mv(self):
        key = self.pick_owned()
        if key is None:
            return self.op_cp_in()
        task = self.rng.choice(self.tasks)
        new = (task, self.new_name())
        digest = self.owned.pop(key)
        try:
            os.rename(self.mnt("P", *key), self.mnt("P", *new))
        except OSError as e:
            self.uncertain.update([key, new])
            raise OpFailed(f"mv {'/'.join(key)} {'/'.join(new)}: {e}")
        self.owned[new] = digest
        self.note(new, f"mv from {'/'.join(key)}")
        self.note(key, f"mv to {'/'.join(new)}")

    def op_rsync(self):
        files = sorted(self.rsync_files)
        changes = []
        if not files:  # first run: the whole tree
            changes = [f"batch-{d}/r-{i:02d}.dat" for d in range(RSYNC_FOLDERS)
                       for i in range(RSYNC_FILES)]
        elif len(files) >= RSYNC_MAX_FILES:
            changes = self.rng.sample(files, 3)
        else:
            changes = self.rng.sample(files, min(2, len(files)))
            d = self.rng.randrange(RSYNC_FOLDERS)
            changes.append(f"batch-{d}/r-{len(files) + self.seq:02d}.dat")
            self.seq += 1
        for rel in changes:
            data = self.rng.randbytes(self.rng.randint(0, 256 * KiB))
            path = self.rsync_src / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            self.rsync_files[rel] = sha256_bytes(data)
            self.bytes_in += len(data)
        try:
            run(["rsync", "-a", f"{self.rsync_src}/", f"{self.soak.mount.path('W', 'Sync')}/"])
        except OpFailed:
            self.soak.rsync_uncertain = True
            raise

    def step(self, op):
        fn = {"cp-in": self.op_cp_in, "overwrite": self.op_overwrite, "cp-out": self.op_cp_out,
              "ls-lR": self.op_ls, "rm": self.op_rm, "mv": self.op_mv, "rsync": self.op_rsync}[op]
        if op == "cp-in" and len(self.owned) >= MAX_OWNED:
            op, fn = "rm", self.op_rm
        if op == "rsync" and self.index != 0:  # one rsync tree, owned by worker 0
            op, fn = "cp-out", self.op_cp_out
        start = time.monotonic()
        try:
            fn()
        except (OpFailed, OSError) as e:
            self.errors.append(f"{time.strftime('%H:%M:%S')} worker {self.index} {op}: {e}")
            log(f"  worker {self.index}: {op} FAILED: {e}")
        self.times[op].append(time.monotonic() - start)
        self.counts[op] += 1

    def warm_up(self, deadline, stop):
        for op in OPS:  # every kind at least once, then the random mix
            self.step(op)
        self.loop(deadline, stop)

    def loop(self, deadline, stop):
        ops, weights = zip(*OPS.items())
        while time.monotonic() < deadline and not stop.is_set():
            self.step(self.rng.choices(ops, weights)[0])


class Soak:
    def __init__(self, args):
        self.args = args
        base = args.workdir or tempfile.mkdtemp(prefix="asanafs-soak-", dir="/var/tmp")
        self.workdir = pathlib.Path(base).resolve()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.token = "soak-" + os.urandom(12).hex()
        self.token_file = write_private(self.workdir / "token", self.token + "\n")
        self.emu = None
        self.mount = None
        self.samples = []
        self.rsync_uncertain = False
        self.seeded_sha = {}
        self.verify_errors = []
        self.verified = 0

    def start(self):
        seed = self.workdir / "seed.json"
        seed.write_text(json.dumps(seed_world(self.args.workers)))
        self.emu = Emulator(self.args.emulator, seed=str(seed), state_dir=str(self.workdir / "emu"),
                            token=self.token)
        self.emu.start()
        state = self.emu.state()
        seeded = next(t["gid"] for t in state["tasks"] if t["name"] == "Seeded")
        self.seeded_sha = {a["name"]: a["sha256"] for a in state["attachments"]
                           if a["parent"] == seeded}
        opts = list(self.args.mount_option)
        if self.args.cache_size:
            opts.append(f"cache_size={self.args.cache_size}")
        self.args.mount_option = opts
        # Mount (bench.py) reads args.asanafs, args.mount_option, token_file and workdir.
        self.mount = Mount(self, self.emu, self.workdir / "cache", "mnt")
        self.mount.__enter__()
        self.daemon = Daemon(self.mount.pid, self.mount.cache_dir.resolve())

    def sample(self, label):
        s = self.daemon.sample()
        s["label"] = label
        self.samples.append(s)
        kinds = ", ".join(f"{k} {v}" for k, v in s["fd_kinds"].items())
        log(f"  {label}: VmRSS {s['VmRSS'] / MiB:.1f} MiB, fds {s['fds']} ({kinds}), "
            f"threads {s['Threads']}")
        return s

    def wait_quiet(self, quiet_s=2.0, cap_s=120.0):
        """Until the emulator's counters stop moving (uploads after close, prefetch)."""
        key = lambda s: (s["total_api_requests"], s["blob_requests"], s["uploads"])  # noqa
        last = key(self.emu.stats())
        since = time.monotonic()
        deadline = since + cap_s
        while time.monotonic() < deadline:
            time.sleep(0.25)
            now = key(self.emu.stats())
            if now != last:
                last, since = now, time.monotonic()
            elif time.monotonic() - since >= quiet_s:
                return True
        return False

    def run(self):
        self.sample("at mount")
        workers = [Worker(self, i) for i in range(self.args.workers)]
        self.workers = workers
        log(f"warm-up: {self.args.warmup_s:g} s, every kind of operation at least once per worker")
        warm = time.monotonic() + self.args.warmup_s
        never = threading.Event()
        self.parallel(workers, lambda w: w.warm_up(warm, never))
        self.wait_quiet()
        self.start_sample = self.sample("start (after warm-up)")
        deadline = time.monotonic() + self.args.minutes * 60
        stop = threading.Event()

        def sampler():
            while not stop.wait(self.args.sample_s):
                try:
                    self.sample(f"t+{(time.time() - self.start_sample['t']) / 60:.1f} min")
                except OSError:
                    return
        t = threading.Thread(target=sampler, daemon=True)
        t.start()
        log(f"soak: {self.args.minutes:g} min, {len(workers)} workers")
        try:
            self.parallel(workers, lambda w: w.loop(deadline, stop))
        finally:
            stop.set()
            t.join()
        quiet = self.wait_quiet()
        if not quiet:
            log("the emulator did not go quiet within 120 s after the run")
        self.end_sample = self.sample("end (quiet)")
        self.verify()
        self.after_verify = self.sample("after verification reads")

    @staticmethod
    def parallel(workers, fn):
        threads = [threading.Thread(target=fn, args=(w,)) for w in workers]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    def verify(self):
        """Emulator state: exactly the expected attachments with the expected bytes; then each
        file read back through the mount."""
        if self.rsync_uncertain:
            log("an rsync run failed: a final plain rsync first, then project Sync is verified")
            try:
                w0 = self.workers[0]
                run(["rsync", "-a", f"{w0.rsync_src}/", f"{self.mount.path('W', 'Sync')}/"])
                self.wait_quiet()
            except OpFailed as e:
                self.verify_errors.append(f"retry of rsync: {e}")
        state = self.emu.state()
        task_name = {t["gid"]: t["name"] for t in state["tasks"]}
        by_task = {}  # task name -> its attachments (every task name here is unique)
        for a in state["attachments"]:
            by_task.setdefault(task_name.get(a["parent"]), []).append(a)
        checks = {}  # (task, name) -> sha256 of what must be there
        uncertain = set()
        tasks = set()  # every worker task is checked, also when it should be empty
        for w in self.workers:
            checks.update(w.owned)
            uncertain |= w.uncertain
            tasks.update(w.tasks)
            for rel, digest in w.rsync_files.items():
                folder, name = rel.split("/")
                checks[(folder, name)] = digest
        tasks |= {t for t, _ in checks}
        for task in sorted(tasks):
            atts = by_task.get(task, [])
            names = {}
            for a in atts:
                names.setdefault(a["name"], []).append(a)
            for name, lst in names.items():
                key = (task, name)
                if key in uncertain and key not in checks:
                    continue
                if key not in checks:
                    self.verify_errors.append(f"{task}/{name}: present in Asana, expected gone"
                                              f"{self.story(key)}")
                elif len(lst) != 1:
                    self.verify_errors.append(f"{task}/{name}: {len(lst)} attachments")
                elif lst[0]["sha256"] != checks[key]:
                    self.verify_errors.append(f"{task}/{name}: wrong content in Asana")
        for (task, name), digest in sorted(checks.items()):
            if not any(a["name"] == name for a in by_task.get(task, [])):
                self.verify_errors.append(f"{task}/{name}: missing in Asana")
                continue
            parts = ("P", task, name) if task.startswith("Work-") else ("Sync", task, name)
            try:
                got = sha256_file(self.mount.path("W", *parts))
            except OSError as e:
                self.verify_errors.append(f"{task}/{name}: read back through the mount: {e}")
                continue
            if got != digest:
                self.verify_errors.append(f"{task}/{name}: read back through the mount differs")
            else:
                self.verified += 1
        self.verify_total = len(checks)
        self.uncertain = sorted(uncertain)

    def story(self, key):
        """What the worker owning `key` did to it (for a verification problem)."""
        for w in self.workers:
            if key in w.history:
                return w.story(key)
        return ""

    def report(self):
        a = self.args
        ws = self.workers
        counts = {op: sum(w.counts[op] for w in ws) for op in OPS}
        errors = [e for w in ws for e in w.errors]
        s0, s1, sm = self.start_sample, self.end_sample, self.samples[0]
        drift = (s1["VmRSS"] - s0["VmRSS"]) / s0["VmRSS"] * 100
        fd_growth = s1["fds"] - s0["fds"]
        rss_series = [s["VmRSS"] for s in self.samples[1:-1]]
        fd_series = [s["fds"] for s in self.samples[1:-1]]
        out = ["asanafs soak (tests/bench/soak.py)"]
        out += Machine().describe()
        out.append(f"load average at end={Machine.loadavg()}; {a.minutes:g} min, {a.workers} "
                   f"workers, seed {a.seed}, mount options {','.join(a.mount_option) or '-'}")
        out.append(f"operations (warm-up included): {sum(counts.values())} ("
                   + ", ".join(f"{op} {n}" for op, n in counts.items())
                   + f"); failed: {len(errors)}")
        races = sum(w.ls_races for w in ws)
        if races:
            out.append(f"ls -lR saw {races} file(s) vanish between readdir and lstat (another "
                       f"worker's rm/mv at the same moment; accepted)")
        out.append(f"bytes copied in {sum(w.bytes_in for w in ws) / MiB:.0f} MiB, "
                   f"out {sum(w.bytes_out for w in ws) / MiB:.0f} MiB")
        lat = []
        for op in OPS:
            t = [x for w in ws for x in w.times[op]]
            if t:
                t.sort()
                lat.append(f"{op} {statistics.median(t) * 1000:.0f}/"
                           f"{t[int(0.95 * (len(t) - 1))] * 1000:.0f}/{t[-1] * 1000:.0f}")
        out.append("latency ms (median/p95/max): " + ", ".join(lat))
        out.append("")
        rows = [("daemon", "at mount", "start", "end", "drift"),
                ("VmRSS", f"{sm['VmRSS'] / MiB:.1f} MiB", f"{s0['VmRSS'] / MiB:.1f} MiB",
                 f"{s1['VmRSS'] / MiB:.1f} MiB", f"{drift:+.1f} %"),
                ("open fds", str(sm["fds"]), str(s0["fds"]), str(s1["fds"]), f"{fd_growth:+d}"),
                ("threads", str(sm["Threads"]), str(s0["Threads"]), str(s1["Threads"]),
                 f"{s1['Threads'] - s0['Threads']:+d}"),
                ("VmHWM", "-", f"{s0['VmHWM'] / MiB:.1f} MiB", f"{s1['VmHWM'] / MiB:.1f} MiB", "-")]
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        for i, r in enumerate(rows):
            out.append("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |")
            if i == 0:
                out.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
        if rss_series:
            out.append(f"during the run (every {a.sample_s:g} s): VmRSS "
                       f"{min(rss_series) / MiB:.1f}..{max(rss_series) / MiB:.1f} MiB, fds "
                       f"{min(fd_series)}..{max(fd_series)}")
        for label, smp in (("at mount", sm), ("start", s0), ("end", s1)):
            out.append(f"open fds {label}: " + ", ".join(f"{k} {v}"
                                                        for k, v in smp["fd_kinds"].items()))
        out.append(f"after the verification reads: VmRSS "
                   f"{self.after_verify['VmRSS'] / MiB:.1f} MiB, "
                   f"fds {self.after_verify['fds']}")
        out.append(f"content: {self.verified}/{self.verify_total} files verified (sha256 in the "
                   f"emulator and read back through the mount); {len(self.verify_errors)} "
                   f"problem(s); {len(self.uncertain)} name(s) left uncertain by failed operations")
        ok_rss = drift < a.max_rss_drift
        # Sockets come and go with curl's pool of idle handles (each keeps its connection and
        # a socketpair), pipes with the FUSE workers (each splices reads through a pipe of its
        # own; a worker above max_idle_threads exits only after its next request, so how many
        # are left when the run goes quiet varies). Both must only show no upward trend: the
        # end count at most the highest count of the run's first half. Files (cache, staging,
        # journal, /dev/fuse) must not grow at all.
        pooled = ("socket", "pipe")
        files = lambda smp: smp["fds"] - sum(smp["fd_kinds"][k] for k in pooled)  # noqa: E731
        file_growth = files(s1) - files(s0)
        first_half = [x for x in self.samples
                      if s0["t"] <= x["t"] <= (s0["t"] + s1["t"]) / 2]
        caps = {k: max(x["fd_kinds"][k] for x in first_half) for k in pooled}
        ok_fd = file_growth <= 0 and all(s1["fd_kinds"][k] <= caps[k] for k in pooled)
        ok = not errors and not self.verify_errors and ok_rss and ok_fd
        out.append(f"RSS drift {drift:+.1f} % (< {a.max_rss_drift:g} %: "
                   f"{'yes' if ok_rss else 'NO'}); fd growth {fd_growth:+d} "
                   f"(files {file_growth:+d}, must not grow; "
                   + "; ".join(f"{k}s {s1['fd_kinds'][k]}, at most the first half's highest "
                               f"{caps[k]}" for k in pooled)
                   + f": {'yes' if ok_fd else 'NO'}); "
                   f"result: {'PASS' if ok else 'FAIL'}")
        for e in errors[:20]:
            out.append(f"  failed operation: {e}")
        for e in self.verify_errors[:20]:
            out.append(f"  verification: {e}")
        print("\n".join(out), flush=True)
        if a.json:
            with open(a.json, "w") as f:
                json.dump({"samples": self.samples, "counts": counts, "errors": errors,
                           "verify_errors": self.verify_errors, "verified": self.verified,
                           "rss_drift_percent": drift, "fd_growth": fd_growth}, f, indent=2)
        return 0 if ok else 1

    def cleanup(self):
        if self.mount is not None:
            code_log = self.mount.stderr_tail(5)
            self.mount.unmount()
            warn = 0
            try:
                text = self.mount.stderr_path.read_text(errors="replace")
                warn = sum(1 for line in text.splitlines()
                           if " warn" in line.lower() or " error" in line.lower())
            except OSError:
                pass
            log(f"daemon log: {warn} warning/error line(s); tail:\n{code_log}")
        if self.emu is not None:
            try:
                self.emu.stop()
            except Exception as e:
                log(f"stopping the emulator: {e}")
        if not self.args.keep:
            shutil.rmtree(self.workdir, ignore_errors=True)
        else:
            log(f"kept {self.workdir}")


def parse_args(argv):
    p = argparse.ArgumentParser(description="asanafs soak run against the Asana emulator")
    p.add_argument("--asanafs", default=str(SOURCE_ROOT / "build/src/cli/asanafs"))
    p.add_argument("--emulator", default=str(SOURCE_ROOT / "build/tests/emulator/asana-emulator"))
    p.add_argument("--minutes", type=float, default=10)
    p.add_argument("--workers", type=int, default=3, help="parallel operation threads")
    p.add_argument("--seed", type=int, default=1, help="seed of the random operations and data")
    p.add_argument("--warmup-s", type=float, default=60,
                   help="random operations before the 'start' sample the drift is measured "
                   "from (thread pools and connection caches fill lazily)")
    p.add_argument("--sample-s", type=float, default=30, help="RSS/fd sampling interval")
    p.add_argument("--cache-size", default="256M",
                   help="-o cache_size for the mount (small, so eviction happens; '' = default)")
    p.add_argument("--max-rss-drift", type=float, default=10.0, help="percent")
    p.add_argument("--mount-option", action="append", default=[],
                   help="extra -o option for the mount (repeatable)")
    p.add_argument("--workdir", help="scratch directory (default: a new one under /var/tmp)")
    p.add_argument("--keep", action="store_true", help="keep the scratch directory")
    p.add_argument("--json", help="also write samples, counts and errors to this file")
    args = p.parse_args(argv)
    if args.minutes <= 0 or args.workers < 1 or args.sample_s <= 0 or args.warmup_s < 0:
        p.error("--minutes, --workers and --sample-s must be positive")
    for name in ("asanafs", "emulator"):
        path = getattr(args, name)
        if not os.access(path, os.X_OK):
            p.error(f"--{name} {path} is not an executable (build it first)")
        setattr(args, name, os.path.abspath(path))
    for tool in ("cp", "ls", "rsync", "fusermount3"):
        if shutil.which(tool) is None:
            p.error(f"{tool} is not installed")
    return args


def _interrupt(signum, frame):
    raise KeyboardInterrupt()


def main(argv=None):
    args = parse_args(argv)
    soak = Soak(args)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        soak.start()
        soak.run()
        return soak.report()
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    finally:
        soak.cleanup()


if __name__ == "__main__":
    sys.exit(main())
