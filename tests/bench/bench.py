#!/usr/bin/env python3
"""asanafs performance benchmark: issue 4's measuring stick (test layer, standard library only).

Starts asana-emulator processes on loopback, mounts asanafs over them and prints one table,
measure | asanafs | baseline | ratio | target | met?, where every baseline (curl, a local cat,
the request floor) runs in the same invocation on the same emulator. Each measure is repeated
(--runs) and the median is reported. It builds nothing, asserts nothing and is not part of CI:
run it by hand as root (drop_caches and FUSE mounts need it). See tests/bench/README.md.

    python3 tests/bench/bench.py --asanafs build/src/cli/asanafs \
        --emulator build/tests/emulator/asana-emulator
"""

import argparse
import hashlib
import json
import math
import os
import pathlib
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

SOURCE_ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(SOURCE_ROOT / "tests" / "emulator"))

from emulator import Emulator  # noqa: E402  (the emulator's Python launcher)

MiB = 1 << 20
BIG = 104857600  # 100 MiB: the emulator's (and Asana's) upload limit, exactly
PAGE = 100  # asanafs lists with limit=100
LATENCY_MS = 50
BANDWIDTH = 20000000
MOUNT_DEADLINE_S = 20
EXIT_DEADLINE_S = 30
MEASURES = ["cold", "cold-bw", "head", "reread", "list", "upload", "rss"]
LIMITER_H = SOURCE_ROOT / "include" / "asanafs" / "http" / "limiter.h"
VFS_H = SOURCE_ROOT / "include" / "asanafs" / "vfs" / "vfs.h"


def constant_from_source(path, pattern, fallback):
    """A default read from asanafs's own headers (e.g. the limiter's 50 GETs in flight), so
    the listing baseline follows the code; `fallback` if the header or the line is gone."""
    try:
        m = re.search(pattern, path.read_text())
    except OSError:
        m = None
    return (int(m.group(1)), True) if m else (fallback, False)


API_GET_CONCURRENCY, _ = constant_from_source(LIMITER_H, r"size_t max_reads\s*=\s*(\d+)", 50)

# Loopback only: no child process may route through a proxy from the environment.
CHILD_ENV = {k: v for k, v in os.environ.items()
             if k.lower() not in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")}
CURL = ["curl", "-sS", "-f", "--noproxy", "*"]


class BenchError(RuntimeError):
    pass


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---- machine ---------------------------------------------------------------------------

class Machine:
    """What the numbers were taken on, and whether cold runs really were cold."""

    def __init__(self):
        self.can_drop = True
        self.load_at_start = Machine.loadavg()

    def drop_caches(self):
        """Writes dirty pages back and drops the page cache, so "cold" reads hit the disk."""
        os.sync()
        if not self.can_drop:
            return
        try:
            with open("/proc/sys/vm/drop_caches", "w") as f:
                f.write("3\n")
        except OSError as e:
            self.can_drop = False
            log(f"cannot drop the page cache ({e}); cold runs may be served from memory")

    @staticmethod
    def loadavg():
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])

    def describe(self):
        lines = []
        cpu = "?"
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
        nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
        uname = " ".join(os.uname()[i] for i in (0, 2, 4))
        lines.append(f"machine: nproc={nproc}, cpu={cpu}, kernel={uname}, "
                     f"load average at start={self.load_at_start}")
        free = subprocess.run(["free", "-g"], capture_output=True, text=True).stdout.rstrip()
        lines += ["free -g:"] + ["  " + line for line in free.splitlines()]
        return lines


# ---- processes and mounts --------------------------------------------------------------

def run_timed(cmd, stdout=subprocess.DEVNULL, timeout=600):
    """Runs `cmd` to completion and returns its wall time in seconds; raises on failure."""
    start = time.monotonic()
    try:
        res = subprocess.run(cmd, stdout=stdout, stderr=subprocess.PIPE, env=CHILD_ENV,
                             timeout=timeout)
    except subprocess.TimeoutExpired:
        raise BenchError(f"{' '.join(map(str, cmd))} did not finish in {timeout} s")
    elapsed = time.monotonic() - start
    if res.returncode != 0:
        raise BenchError(f"{' '.join(map(str, cmd))} exited with {res.returncode}: "
                         f"{res.stderr.decode(errors='replace').strip()[:500]}")
    return elapsed


def is_mounted(path):
    target = os.path.realpath(path)
    with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            mount_point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)),
                                 line.split(" ")[4])
            if mount_point == target:
                return True
    return False


def write_private(path, text):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, text.encode())
    finally:
        os.close(fd)
    return path


class Mount:
    """One asanafs daemon in the foreground (-f), so its pid is the daemon's."""

    live = []  # for cleanup on the way out

    def __init__(self, bench, emu, cache_dir, name):
        self.bench = bench
        self.emu = emu
        self.cache_dir = pathlib.Path(cache_dir)
        self.mountpoint = bench.workdir / name
        self.stderr_path = bench.workdir / f"{name}.stderr"
        self.proc = None

    def __enter__(self):
        self.mountpoint.mkdir(parents=True, exist_ok=True)
        opts = [f"api_url={self.emu.api_url}", f"token_file={self.bench.token_file}",
                f"cache_dir={self.cache_dir}", *self.bench.args.mount_option]
        cmd = [self.bench.args.asanafs, "-f", str(self.mountpoint), "-o", ",".join(opts)]
        with open(self.stderr_path, "ab") as err:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                                         env=CHILD_ENV)
        Mount.live.append(self)
        deadline = time.monotonic() + MOUNT_DEADLINE_S
        while not is_mounted(self.mountpoint):
            if self.proc.poll() is not None:
                raise BenchError(f"asanafs exited with {self.proc.returncode} before mounting:\n"
                                 f"{self.stderr_tail()}")
            if time.monotonic() > deadline:
                self.unmount()
                raise BenchError(f"not mounted after {MOUNT_DEADLINE_S} s:\n{self.stderr_tail()}")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc):
        self.unmount()
        return False

    @property
    def pid(self):
        return self.proc.pid

    def path(self, *parts):
        return str(self.mountpoint.joinpath(*parts))

    def stderr_tail(self, n=20):
        try:
            lines = self.stderr_path.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return ""
        return "\n".join(lines[-n:])

    def status_kib(self, key):
        """A `key:  N kB` line of /proc/PID/status, in KiB (None once the daemon is gone)."""
        try:
            with open(f"/proc/{self.pid}/status") as f:
                for line in f:
                    if line.startswith(key + ":"):
                        return int(line.split()[1])
        except OSError:
            return None
        return None

    def unmount(self):
        if self.proc is None:
            return
        if is_mounted(self.mountpoint):
            res = subprocess.run(["fusermount3", "-u", str(self.mountpoint)], capture_output=True)
            if res.returncode != 0:
                subprocess.run(["fusermount3", "-u", "-z", str(self.mountpoint)],
                               capture_output=True)
        try:
            code = self.proc.wait(timeout=EXIT_DEADLINE_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
            log(f"asanafs did not exit after unmount; killed it")
        if code != 0:
            log(f"asanafs exited with {code}:\n{self.stderr_tail()}")
        self.proc = None
        if self in Mount.live:
            Mount.live.remove(self)


# ---- results ---------------------------------------------------------------------------

class Row:
    def __init__(self, measure, value="-", baseline="-", ratio="-", target="-", met=None):
        self.measure, self.value, self.baseline = measure, value, baseline
        self.ratio, self.target, self.met = ratio, target, met

    def cells(self):
        met = {True: "yes", False: "NO", None: "-"}.get(self.met, str(self.met))
        return [self.measure, self.value, self.baseline, self.ratio, self.target, met]


def mibs(nbytes, seconds):
    return nbytes / MiB / seconds


def fmt_rate(rate):
    return f"{rate:.0f} MiB/s" if rate >= 10 else f"{rate:.1f} MiB/s"


def fmt_bytes(n):
    if n >= MiB:
        return f"{n / MiB:.2f} MiB"
    if n >= 1024:
        return f"{n / 1024:.1f} KiB"
    return f"{n} B"


def median(values):
    return statistics.median(values)


def spread(values, fmt):
    """'a / b / c' of every run, for the notes (the table shows only the median)."""
    return " / ".join(fmt(v) for v in values)


def error_row(title, err):
    msg = str(err).splitlines()[0] if str(err) else type(err).__name__
    return Row(title, "error", "-", "-", "-", False), f"{title}: {msg}"


# ---- seeds -----------------------------------------------------------------------------

def big_seed(parallel):
    """A FILE.json world: task T with the 100 MiB file and a few small ones, an empty
    Uploads task, and (for the memory measure) four more 100 MiB files in task Parallel."""
    t = {"name": "T", "attachments": [
        {"name": "big.bin", "size": BIG},
        {"name": "hello.txt", "content": "hello\n"},
        {"name": "notes.txt", "content": "benchmark notes\n" * 64},
        {"name": "small.bin", "size": 65536}]}
    tasks = [t, {"name": "Uploads"}]
    if parallel:
        tasks.append({"name": "Parallel",
                      "attachments": [{"name": f"p{i}.bin", "size": BIG} for i in range(1, 5)]})
    return {"workspaces": [{"name": "W", "projects": [{"name": "P", "tasks": tasks}]}]}


class World:
    """Names and gids of an emulator's world (from /_control/state)."""

    def __init__(self, state):
        self.state = state
        self.tasks = {t["gid"]: t for t in state["tasks"]}
        self.attachments = state["attachments"]

    def task_gid(self, name):
        return next(t["gid"] for t in self.state["tasks"] if t["name"] == name)

    def attachment(self, task_name, name):
        parent = self.task_gid(task_name)
        return next(a for a in self.attachments if a["parent"] == parent and a["name"] == name)

    def listing_floor(self):
        """Requests a full walk needs at PAGE items per page: one per page of every directory
        asanafs lists (root: workspaces; workspace: projects; project: tasks and its Key
        resources; task: attachments and subtasks), an empty list still costing one."""
        pages = lambda n: max(1, math.ceil(n / PAGE))  # noqa: E731
        st = self.state
        floor = pages(len(st["workspaces"]))
        floor += sum(pages(len(w["projects"])) for w in st["workspaces"])
        floor += sum(pages(len(p["tasks"])) for p in st["projects"])
        per_parent = {}
        for a in self.attachments:
            per_parent[a["parent"]] = per_parent.get(a["parent"], 0) + 1
        # GET /attachments?parent=<project>: one more list per project (its Key resources).
        floor += sum(pages(per_parent.get(p["gid"], 0)) for p in st["projects"])
        # Every task directory reached from a project (multi-homed tasks once per project,
        # subtasks under their parent), as a walk of the tree visits them.
        def walk(gid):
            t = self.tasks[gid]
            n = pages(per_parent.get(gid, 0)) + pages(len(t["subtasks"]))
            return n + sum(walk(s) for s in t["subtasks"])
        floor += sum(walk(g) for p in st["projects"] for g in p["tasks"])
        return floor

    def entry_count(self):
        """Paths `find MNT` prints: the root plus every workspace, project (and its Key
        resources), task and file."""
        def walk(gid):
            t = self.tasks[gid]
            n = 1 + sum(1 for a in self.attachments if a["parent"] == gid)
            return n + sum(walk(s) for s in t["subtasks"])
        st = self.state
        project_gids = {p["gid"] for p in st["projects"]}
        key_resources = sum(1 for a in self.attachments if a["parent"] in project_gids)
        return (1 + len(st["workspaces"]) + len(st["projects"]) + key_resources
                + sum(walk(g) for p in st["projects"] for g in p["tasks"]))


# ---- the benchmark ---------------------------------------------------------------------

class Bench:
    def __init__(self, args):
        self.args = args
        self.machine = Machine()
        base = args.workdir or tempfile.mkdtemp(prefix="asanafs-bench-", dir="/var/tmp")
        self.workdir = pathlib.Path(base).resolve()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.token = "bench-" + secrets.token_hex(12)
        self.token_file = write_private(self.workdir / "token", self.token + "\n")
        # curl reads the Authorization header from a 0600 file, not from its command line.
        self.header_file = write_private(self.workdir / "auth.header",
                                         f"Authorization: Bearer {self.token}\n")
        self.emulators = {}
        self.rows = {m: [] for m in MEASURES}
        self.notes = []
        self.samples = {}
        self.cache_seq = 0
        self.loads = []
        self.local_big = None
        self.upload_src = None
        self.upload_sha = None

    # -- helpers ------------------------------------------------------------------------

    def emulator(self, key):
        """Starts (once) the emulator a measure needs: big, bw (bandwidth-capped), medium."""
        if key in self.emulators:
            return self.emulators[key]
        state = self.workdir / f"emu-{key}"
        extra = []
        latency = None
        if key == "medium":
            seed, latency = "medium", LATENCY_MS
        else:
            seed_path = self.workdir / f"seed-{key}.json"
            seed_path.write_text(json.dumps(big_seed(parallel=(key == "big"))))
            seed = str(seed_path)
            if key == "bw":
                extra = ["--conn-bandwidth", str(BANDWIDTH)]
        log(f"starting emulator '{key}' (seed {pathlib.Path(seed).name})")
        emu = Emulator(self.args.emulator, seed=seed, state_dir=str(state), token=self.token,
                       latency_ms=latency, extra_args=extra)
        emu.start()
        emu.world = World(emu.state())
        self.emulators[key] = emu
        return emu

    def stop_emulator(self, key):
        emu = self.emulators.pop(key, None)
        if emu is not None:
            emu.stop()

    def fresh_cache(self):
        self.cache_seq += 1
        path = self.workdir / f"cache-{self.cache_seq}"
        shutil.rmtree(path, ignore_errors=True)
        return path

    def drop(self, path):
        if path is None:
            return
        if os.path.isdir(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass

    def download_url(self, emu, gid):
        status, body = emu.api_get(f"/attachments/{gid}?opt_fields=download_url")
        if status != 200 or not body["data"].get("download_url"):
            raise BenchError(f"GET /attachments/{gid} -> {status}")
        return body["data"]["download_url"]

    @staticmethod
    def sha256_of(path):
        h = hashlib.sha256()
        with open(path, "rb") as f:
            while True:
                block = f.read(4 * MiB)
                if not block:
                    return h.hexdigest()
                h.update(block)

    def check_copy(self, path, att, who):
        size = os.path.getsize(path)
        if size != att["size"] or self.sha256_of(path) != att["sha256"]:
            raise BenchError(f"{who} produced a wrong copy of {att['name']} ({size} bytes)")

    @staticmethod
    def wait_quiet(emu, quiet_s=1.0, cap_s=15.0):
        """Waits until the emulator's counters stop moving (background read-ahead or a
        cache publication may outlive the tool that caused it); returns the stats."""
        last = emu.stats()
        still_since = time.monotonic()
        deadline = still_since + cap_s
        while time.monotonic() < deadline:
            time.sleep(0.2)
            now = emu.stats()
            key = lambda s: (s["total_api_requests"], s["blob_requests"], s["blob_bytes"],  # noqa
                             s["uploads"])
            if key(now) != key(last):
                last, still_since = now, time.monotonic()
            elif time.monotonic() - still_since >= quiet_s:
                return now
        return last

    def big_paths(self, mnt):
        return mnt.path("W", "P", "T", "big.bin"), mnt.path("W", "P", "T")

    def ensure_upload_source(self):
        if self.upload_src is None:
            self.upload_src = self.workdir / "upload-src.bin"
            h = hashlib.sha256()
            with open(self.upload_src, "wb") as f:
                for _ in range(BIG // (4 * MiB)):
                    block = os.urandom(4 * MiB)
                    h.update(block)
                    f.write(block)
            self.upload_sha = h.hexdigest()
        return self.upload_src

    def delete_attachment_named(self, emu, task, name):
        """Finds an upload by name, checks its bytes, deletes it (keeps the disk small)."""
        parent = emu.world.task_gid(task)
        state = emu.state()
        found = [a for a in state["attachments"] if a["parent"] == parent and a["name"] == name]
        if len(found) != 1:
            raise BenchError(f"expected one attachment {name!r} in {task}, found {len(found)}")
        att = found[0]
        status, _ = emu.api_request("DELETE", f"/attachments/{att['gid']}")
        if status != 200:
            raise BenchError(f"DELETE /attachments/{att['gid']} -> {status}")
        if att["size"] != BIG or att["sha256"] != self.upload_sha:
            raise BenchError(f"upload {name!r} arrived with {att['size']} bytes / wrong content")

    # -- measures -----------------------------------------------------------------------

    def measure_cold_copy(self, key, title, target):
        """cp out of a fresh mount (fresh cache_dir, page cache dropped) against curl -o of a
        fresh download URL, interleaved run by run."""
        emu = self.emulator(key)
        att = emu.world.attachment("T", "big.bin")
        dest = self.workdir / "copy-out.bin"
        fs_t, curl_t = [], []
        for run in range(self.args.runs):
            cache = self.fresh_cache()
            try:
                with Mount(self, emu, cache, "mnt") as mnt:
                    src, task_dir = self.big_paths(mnt)
                    os.listdir(task_dir)  # the lookups are not what this row measures
                    self.machine.drop_caches()
                    fs_t.append(run_timed(["cp", src, str(dest)]))
                self.check_copy(dest, att, "cp from asanafs")
            finally:
                self.drop(dest)
                self.drop(cache)
            url = self.download_url(emu, att["gid"])
            self.machine.drop_caches()
            try:
                curl_t.append(run_timed(CURL + ["-o", str(dest), url]))
                self.check_copy(dest, att, "curl")
            finally:
                self.drop(dest)
            log(f"  {key} run {run + 1}: asanafs {fs_t[-1]:.2f} s, curl {curl_t[-1]:.2f} s")
        fs_rate = mibs(BIG, median(fs_t))
        curl_rate = mibs(BIG, median(curl_t))
        ratio = fs_rate / curl_rate
        self.samples[key] = {"asanafs_s": fs_t, "curl_s": curl_t}
        self.notes.append(f"{title}: asanafs runs {spread(fs_t, lambda v: f'{v:.2f} s')}; "
                          f"curl runs {spread(curl_t, lambda v: f'{v:.2f} s')}")
        return [Row(title, fmt_rate(fs_rate), "curl " + fmt_rate(curl_rate), f"{ratio:.2f}",
                    f">= {target}", ratio >= target)]

    def measure_head(self):
        emu = self.emulator("big")
        att = emu.world.attachment("T", "big.bin")
        url = self.download_url(emu, att["gid"])
        status, _, expected = emu.request("GET", url, headers={"Range": "bytes=0-4095"})
        if status != 206 or len(expected) != 4096:
            raise BenchError(f"ranged GET of the blob -> {status}")
        reqs, blob = [], []
        for run in range(self.args.runs):
            cache = self.fresh_cache()
            try:
                with Mount(self, emu, cache, "mnt") as mnt:
                    src, task_dir = self.big_paths(mnt)
                    os.listdir(task_dir)
                    self.wait_quiet(emu, quiet_s=0.3)
                    emu.reset_stats()
                    self.machine.drop_caches()
                    res = subprocess.run(["head", "-c", "4096", src], capture_output=True,
                                         env=CHILD_ENV, timeout=120)
                    if res.returncode != 0 or res.stdout != expected:
                        raise BenchError(f"head -c 4096 exited {res.returncode} with "
                                         f"{len(res.stdout)} bytes (wrong or short)")
                    stats = self.wait_quiet(emu)
                    reqs.append(stats["total_api_requests"])
                    blob.append(stats["blob_bytes"])
            finally:
                self.drop(cache)
            log(f"  head run {run + 1}: {reqs[-1]} API requests, {fmt_bytes(blob[-1])} from blobs")
        self.samples["head"] = {"api_requests": reqs, "blob_bytes": blob}
        r, b = median(reqs), median(blob)
        return [Row("3. head -c 4096, cold: API requests", f"{r:g}", "-", "-", "<= 2", r <= 2),
                Row("3. head -c 4096, cold: blob bytes", fmt_bytes(b), "-", "-", "<= 8 MiB",
                    b <= 8 * MiB)]

    def measure_reread(self):
        """Reads the whole file (filling the on-disk cache), remounts on the same cache_dir
        and reads it again: no HTTP at all, and close to a local disk's speed."""
        emu = self.emulator("big")
        att = emu.world.attachment("T", "big.bin")
        if self.local_big is None:
            self.local_big = self.workdir / "local-big.bin"
            run_timed(CURL + ["-o", str(self.local_big), self.download_url(emu, att["gid"])])
            self.check_copy(self.local_big, att, "curl")
        reqs, fs_t, local_t = [], [], []
        for run in range(self.args.runs):
            cache = self.fresh_cache()
            try:
                with Mount(self, emu, cache, "mnt") as mnt:
                    src, _ = self.big_paths(mnt)
                    run_timed(["cat", src])
                    self.wait_quiet(emu, quiet_s=0.5)
                with Mount(self, emu, cache, "mnt") as mnt:
                    src, task_dir = self.big_paths(mnt)
                    # The listing after a remount is not the content cache's business.
                    os.listdir(task_dir)
                    self.wait_quiet(emu, quiet_s=0.3)
                    emu.reset_stats()
                    self.machine.drop_caches()
                    fs_t.append(run_timed(["cat", src]))
                    stats = self.wait_quiet(emu, quiet_s=0.5)
                    reqs.append(stats["total_api_requests"] + stats["blob_requests"])
            finally:
                self.drop(cache)
            self.machine.drop_caches()
            local_t.append(run_timed(["cat", str(self.local_big)]))
            log(f"  reread run {run + 1}: {reqs[-1]} HTTP requests, asanafs {fs_t[-1]:.2f} s, "
                f"local cat {local_t[-1]:.2f} s")
        self.samples["reread"] = {"http_requests": reqs, "asanafs_s": fs_t, "local_cat_s": local_t}
        self.notes.append(f"4. re-read: asanafs runs {spread(fs_t, lambda v: f'{v:.2f} s')}; "
                          f"local cat runs {spread(local_t, lambda v: f'{v:.2f} s')}")
        r = median(reqs)
        fs_rate, local_rate = mibs(BIG, median(fs_t)), mibs(BIG, median(local_t))
        ratio = fs_rate / local_rate
        return [Row("4. re-read after remount: HTTP requests", f"{r:g}", "-", "-", "0", r == 0),
                Row("4. re-read after remount: throughput", fmt_rate(fs_rate),
                    "local cat " + fmt_rate(local_rate), f"{ratio:.2f}", ">= 0.8", ratio >= 0.8)]

    def measure_listing(self):
        emu = self.emulator("medium")
        world = emu.world
        floor = world.listing_floor()
        entries = world.entry_count()
        conc = self.args.list_concurrency
        rows = []
        lat = LATENCY_MS / 1000.0
        for tool, cmd in (("find", ["find"]), ("ls -lR", ["ls", "-lR"])):
            reqs, walls = [], []
            for run in range(self.args.list_runs):
                cache = self.fresh_cache()
                try:
                    with Mount(self, emu, cache, "mnt") as mnt:
                        self.wait_quiet(emu, quiet_s=0.3)
                        emu.reset_stats()
                        out = self.workdir / "walk.out"
                        with open(out, "wb") as f:
                            walls.append(run_timed(cmd + [str(mnt.mountpoint)], stdout=f))
                        stats = self.wait_quiet(emu, quiet_s=0.5)
                        reqs.append(stats["total_api_requests"])
                        if tool == "find":
                            with open(out, "rb") as f:
                                printed = sum(1 for _ in f)
                            if printed != entries:
                                raise BenchError(f"find printed {printed} paths, the world "
                                                 f"has {entries}")
                        self.drop(out)
                finally:
                    self.drop(cache)
                log(f"  {tool} run {run + 1}: {reqs[-1]} requests (floor {floor}), "
                    f"{walls[-1]:.1f} s")
            r, w = median(reqs), median(walls)
            self.samples[tool] = {"requests": reqs, "wall_s": walls, "floor": floor}
            expected = r / conc * lat
            serial = r * lat
            rows.append(Row(f"5. {tool} medium @{LATENCY_MS} ms: API requests", f"{r:g}",
                            f"floor {floor}", f"{r / floor:.3f}", "<= 1.02", r / floor <= 1.02))
            rows.append(Row(f"5. {tool} medium @{LATENCY_MS} ms: wall (concurrency {conc:g})",
                            f"{w:.1f} s", f"{expected:.1f} s", f"{w / expected:.2f}",
                            f"<= {self.args.wall_target:g}", w / expected <= self.args.wall_target))
            if conc != 1:
                rows.append(Row(f"5. {tool} medium @{LATENCY_MS} ms: wall vs serial",
                                f"{w:.1f} s", f"{serial:.1f} s", f"{w / serial:.2f}", "-", None))
            self.notes.append(
                f"5. {tool}: requests x {LATENCY_MS} ms = {serial:.1f} s (serial); effective "
                f"concurrency (requests x latency / wall) = {serial / w:.2f}; "
                f"{len(reqs)} run(s): {spread(walls, lambda v: f'{v:.1f} s')}")
        self.notes.append(f"5. floor = {floor} list pages at limit={PAGE} (1 workspaces + projects "
                          f"+ tasks and Key resources per project + attachments and subtasks "
                          f"per task); the mount's "
                          f"GET /users/me is not counted; concurrency assumed = {conc:g}")
        pool, found = constant_from_source(VFS_H, r"size_t prefetch_threads\s*=\s*(\d+)", 0)
        if found:
            self.notes.append(f"5. asanafs's listing prefetch pool (prefetch_threads in "
                              f"include/asanafs/vfs/vfs.h) has {pool} threads, each with up "
                              f"to 2 GETs in flight (a task's attachments and subtasks side by "
                              f"side); the FUSE threads' own listings come on top; the limiter "
                              f"allows {API_GET_CONCURRENCY}")
        return rows

    def measure_upload(self):
        emu = self.emulator("big")
        src = self.ensure_upload_source()
        uploads = emu.world.task_gid("Uploads")
        fs_t, curl_t = [], []
        for run in range(self.args.runs):
            cache = self.fresh_cache()
            name = f"up-asanafs-{run}.bin"
            try:
                with Mount(self, emu, cache, "mnt") as mnt:
                    task_dir = mnt.path("W", "P", "Uploads")
                    os.listdir(task_dir)
                    self.machine.drop_caches()
                    fs_t.append(run_timed(["cp", str(src), os.path.join(task_dir, name)]))
                    self.wait_quiet(emu, quiet_s=0.3)
                self.delete_attachment_named(emu, "Uploads", name)
            finally:
                self.drop(cache)
            name = f"up-curl-{run}.bin"
            self.machine.drop_caches()
            curl_t.append(run_timed(CURL + ["-o", "/dev/null", "-H", f"@{self.header_file}",
                                            "-F", f"parent={uploads}",
                                            "-F", f"file=@{src};filename={name}",
                                            emu.api_url + "/attachments"]))
            self.delete_attachment_named(emu, "Uploads", name)
            log(f"  upload run {run + 1}: asanafs {fs_t[-1]:.2f} s, curl {curl_t[-1]:.2f} s")
        self.samples["upload"] = {"asanafs_s": fs_t, "curl_s": curl_t}
        self.notes.append(f"6. upload: asanafs runs {spread(fs_t, lambda v: f'{v:.2f} s')}; "
                          f"curl runs {spread(curl_t, lambda v: f'{v:.2f} s')}")
        fs_rate, curl_rate = mibs(BIG, median(fs_t)), mibs(BIG, median(curl_t))
        ratio = fs_rate / curl_rate
        return [Row("6. cp 100 MiB into a task (upload)", fmt_rate(fs_rate),
                    "curl -F " + fmt_rate(curl_rate), f"{ratio:.2f}", ">= 0.9", ratio >= 0.9)]

    def measure_rss(self):
        """Peak resident memory of the daemon while 4 cold 100 MiB reads and 2 uploads run
        at once; VmHWM is the kernel's own high-water mark for the process."""
        emu = self.emulator("big")
        src = self.ensure_upload_source()
        hwm, sampled = [], []
        for run in range(self.args.runs):
            cache = self.fresh_cache()
            names = [f"rss-{run}-{j}.bin" for j in range(2)]
            try:
                with Mount(self, emu, cache, "mnt") as mnt:
                    par_dir = mnt.path("W", "P", "Parallel")
                    up_dir = mnt.path("W", "P", "Uploads")
                    os.listdir(par_dir)
                    os.listdir(up_dir)
                    self.machine.drop_caches()
                    peak = [0]
                    done = threading.Event()

                    def sample():
                        while not done.is_set():
                            v = mnt.status_kib("VmRSS")
                            if v:
                                peak[0] = max(peak[0], v)
                            time.sleep(0.05)
                    sampler = threading.Thread(target=sample, daemon=True)
                    sampler.start()
                    procs = [subprocess.Popen(["cat", os.path.join(par_dir, f"p{i}.bin")],
                                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                              env=CHILD_ENV) for i in range(1, 5)]
                    procs += [subprocess.Popen(["cp", str(src), os.path.join(up_dir, n)],
                                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                               env=CHILD_ENV) for n in names]
                    failed = []
                    for p in procs:
                        _, err = p.communicate(timeout=600)
                        if p.returncode != 0:
                            failed.append(f"{' '.join(p.args)}: {err.decode(errors='replace')}")
                    self.wait_quiet(emu, quiet_s=0.5)
                    done.set()
                    sampler.join()
                    value = mnt.status_kib("VmHWM")
                    if failed:
                        raise BenchError("parallel load failed: " + "; ".join(failed))
                    if value is None:
                        raise BenchError("no VmHWM: the daemon is gone")
                    hwm.append(value * 1024)
                    sampled.append(peak[0] * 1024)
                for n in names:
                    self.delete_attachment_named(emu, "Uploads", n)
            finally:
                self.drop(cache)
            log(f"  rss run {run + 1}: VmHWM {fmt_bytes(hwm[-1])}")
        self.samples["rss"] = {"vmhwm_bytes": hwm, "sampled_vmrss_bytes": sampled}
        self.notes.append(f"7. VmHWM runs {spread(hwm, fmt_bytes)}; highest VmRSS sampled every "
                          f"50 ms {spread(sampled, fmt_bytes)}")
        h = median(hwm)
        return [Row("7. daemon peak RSS, 4 reads + 2 uploads", fmt_bytes(h), "-", "-",
                    "<= 64 MiB", h <= 64 * MiB)]

    # -- driver -------------------------------------------------------------------------

    def run(self):
        plan = [
            ("cold", "1. cold cp 100 MiB out", lambda: self.measure_cold_copy(
                "big", "1. cold cp 100 MiB out", 0.9)),
            ("cold-bw", "2. cold cp, 20 MB/s per connection", lambda: self.measure_cold_copy(
                "bw", "2. cold cp, 20 MB/s per connection", 2.0)),
            ("head", "3. head -c 4096, cold", self.measure_head),
            ("reread", "4. re-read after remount", self.measure_reread),
            ("list", "5. find / ls -lR medium", self.measure_listing),
            ("upload", "6. cp 100 MiB into a task (upload)", self.measure_upload),
            ("rss", "7. daemon peak RSS, 4 reads + 2 uploads", self.measure_rss),
        ]
        started = time.monotonic()
        for key, title, fn in plan:
            if key not in self.args.only:
                continue
            log(f"measure {title} (load average {Machine.loadavg()})")
            load_before = Machine.loadavg()
            try:
                self.rows[key] = fn()
            except Exception as e:  # one broken measure must not cost the others
                row, note = error_row(title, e)
                self.rows[key] = [row]
                self.notes.append(note)
                log(f"  FAILED: {e}")
            if key == "cold-bw":
                self.stop_emulator("bw")
            self.loads.append(f"{key}: {load_before} -> {Machine.loadavg()}")
        self.elapsed = time.monotonic() - started

    def report(self):
        out = ["asanafs benchmark (tests/bench/bench.py)"]
        out += self.machine.describe()
        out.append(f"load average at end={Machine.loadavg()}; page cache dropped between cold "
                   f"runs: {'yes' if self.machine.can_drop else 'NO (not root?)'}; "
                   f"runs per measure: {self.args.runs} (listings: {self.args.list_runs}); "
                   f"median reported; total {self.elapsed:.0f} s")
        out.append(f"asanafs: {self.args.asanafs}; emulator: {self.args.emulator}")
        out.append("load average (1/5/15 min) before -> after each measure: "
                   + "; ".join(self.loads))
        out.append("")
        header = ["measure", "asanafs", "baseline", "ratio", "target", "met?"]
        rows = [r.cells() for key in MEASURES for r in self.rows[key]]
        widths = [max(len(c[i]) for c in [header] + rows) for i in range(len(header))]
        line = lambda cells: "| " + " | ".join(  # noqa: E731
            c.ljust(w) for c, w in zip(cells, widths)) + " |"
        out.append(line(header))
        out.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
        out += [line(c) for c in rows]
        out.append("")
        out += ["notes:"] + [f"- {n}" for n in self.notes]
        print("\n".join(out), flush=True)
        if self.args.json:
            with open(self.args.json, "w") as f:
                json.dump({"rows": [dict(zip(header, c)) for c in rows],
                           "samples": self.samples, "notes": self.notes}, f, indent=2)

    def cleanup(self):
        for mnt in list(Mount.live):
            mnt.unmount()
        for key in list(self.emulators):
            try:
                self.stop_emulator(key)
            except Exception as e:
                log(f"stopping emulator {key}: {e}")
        if not self.args.keep:
            shutil.rmtree(self.workdir, ignore_errors=True)
        else:
            log(f"kept {self.workdir}")


def parse_args(argv):
    p = argparse.ArgumentParser(description="asanafs benchmark against the Asana emulator "
                                "(issue 4 targets); prints one table")
    p.add_argument("--asanafs", default=str(SOURCE_ROOT / "build/src/cli/asanafs"))
    p.add_argument("--emulator", default=str(SOURCE_ROOT / "build/tests/emulator/asana-emulator"))
    p.add_argument("--runs", type=int, default=3, help="repetitions per measure (median)")
    p.add_argument("--list-runs", type=int, default=None,
                   help="repetitions of each listing walk (default: --runs)")
    p.add_argument("--list-concurrency", type=float, default=API_GET_CONCURRENCY,
                   help="GETs in flight assumed for measure 5's wall-time baseline (default: "
                   f"{API_GET_CONCURRENCY}, the limiter's max_reads in "
                   "include/asanafs/http/limiter.h)")
    p.add_argument("--wall-target", type=float, default=1.3,
                   help="target for measure 5's wall time / (requests / concurrency x latency)")
    p.add_argument("--only", default=",".join(MEASURES),
                   help="comma-separated subset of: " + ", ".join(MEASURES))
    p.add_argument("--mount-option", action="append", default=[],
                   help="extra -o option for every mount (repeatable)")
    p.add_argument("--workdir", help="scratch directory (default: a new one under /var/tmp)")
    p.add_argument("--keep", action="store_true", help="keep the scratch directory")
    p.add_argument("--json", help="also write rows and every run's samples to this file")
    args = p.parse_args(argv)
    args.only = [m.strip() for m in args.only.split(",") if m.strip()]
    if args.list_runs is None:
        args.list_runs = args.runs
    unknown = [m for m in args.only if m not in MEASURES]
    if unknown:
        p.error(f"unknown measure(s) {unknown}; choose from {MEASURES}")
    if args.runs < 1 or args.list_runs < 1 or args.list_concurrency <= 0:
        p.error("--runs and --list-runs must be >= 1, --list-concurrency > 0")
    for name in ("asanafs", "emulator"):
        path = getattr(args, name)
        if not os.access(path, os.X_OK):
            p.error(f"--{name} {path} is not an executable (build it first)")
        setattr(args, name, os.path.abspath(path))
    for tool in ("curl", "fusermount3", "cp", "cat", "head", "find", "ls"):
        if shutil.which(tool) is None:
            p.error(f"{tool} is not installed")
    return args


def _interrupt(signum, frame):
    raise KeyboardInterrupt()


def main(argv=None):
    args = parse_args(argv)
    if not os.path.exists("/dev/fuse"):
        print("bench.py: /dev/fuse does not exist", file=sys.stderr)
        return 2
    bench = Bench(args)
    # SIGTERM unwinds like Ctrl-C, so mounts and emulators are cleaned up either way.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        bench.run()
        bench.report()
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    finally:
        bench.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
