"""Helpers for the reliability and security e2e tests (test_faults.py, test_deadlines.py,
test_hostile.py, test_secrets.py).

The write-path helpers (write_helpers.py) pick tasks, poll with a deadline and
manage killed mounts; this module adds what fault tests need on top: the fault
matrix of issue 5, custom FILE.json seeds, freezing the emulator with SIGSTOP,
sha256 maps of trees, "did the call fail with this errno" probes that run in a
child process (so a hung FUSE call can never hang pytest), and checks of the
emulator's state for lost, corrupted and duplicate attachments.
"""

import contextlib
import errno
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import textwrap

import pytest

from asana_tree import World, ref
from write_helpers import wait_until

# The matrix: 10 % 429 with Retry-After, 5 % 500, 2 % connection resets, also in the
# middle of a download body and of an upload body, plus 2 % of uploads whose reply is lost after
# they landed (the duplicate trap). Rules are tried in order, the first whose draw succeeds
# fires, so the body cuts come first.
FAULT_MATRIX = ("cut:0.02@POST /attachments;lostreply:0.02@POST /attachments;cut:0.02@/_blobs;"
                "429:0.10;500:0.05;reset:0.02")
FAULT_SEED = 20261204

# Daemon log lines a test that injects faults expects (retries, failed calls, failed uploads).
FAULT_LINES = (r"WARN|ERROR|retry|retrying|failed|refus|timed out|[Tt]imeout|errno|"
               r"Input/output error|Connection|reset|HTTP [45]\d\d|\b[45]\d\d\b")

# errnos that "the call failed because Asana did not answer in time / failed" may give.
DEADLINE_ERRNOS = (errno.EIO, errno.ETIMEDOUT)
PROBE_TIMEOUT_S = 120  # generous: a probe that has not returned by then counts as a hang


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def file_sha(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def tree_shas(root):
    """{relative path: sha256} of every regular file under `root`."""
    out = {}
    for dirpath, _, files in os.walk(root):
        for name in files:
            full = os.path.join(dirpath, name)
            out[os.path.relpath(full, root)] = file_sha(full)
    return out


def write_seed(path, workspaces, user=None):
    """Writes a FILE.json seed (README of the emulator) and returns its path as a string."""
    doc = {"base_time": "2024-01-02T03:04:05.678Z", "workspaces": workspaces}
    if user:
        doc["user"] = user
    path.write_text(json.dumps(doc, ensure_ascii=True))
    return str(path)


def task_by_name(emulator, name, parent_project=None):
    """The gid of the one task called `name` (optionally in project `parent_project`)."""
    w = World(emulator.state())
    found = [t["gid"] for t in w.tasks if t["name"] == name and
             (parent_project is None or parent_project in [ref(p) for p in t.get("projects", [])])]
    assert len(found) == 1, f"expected one task {name!r}, found {len(found)}"
    return found[0]


def attachments(emulator, task_gid):
    return World(emulator.state()).attachments_of(task_gid)


def check_exactly(emulator, task_gid, expected):
    """Asserts the task holds exactly the files `expected` ({name: bytes}): 0 lost, 0 duplicate,
    0 corrupted or partial (size and sha256 of the stored bytes), nothing else."""
    atts = attachments(emulator, task_gid)
    names = [a["name"] for a in atts]
    dups = sorted({n for n in names if names.count(n) > 1})
    lost = sorted(set(expected) - set(names))
    extra = sorted(set(names) - set(expected))
    bad = sorted(a["name"] for a in atts if a["name"] in expected and
                 (a["size"] != len(expected[a["name"]]) or
                  a["sha256"] != sha256(expected[a["name"]])))
    assert (dups, lost, extra, bad) == ([], [], [], []), (
        f"duplicates {dups}, lost {lost}, unexpected {extra}, corrupted or partial {bad}")


@contextlib.contextmanager
def frozen(emulator):
    """SIGSTOPs the emulator (it keeps its sockets: connections hang, nothing is refused) and
    always resumes it."""
    pid = emulator.proc.pid
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


# A child process runs one file system call and prints {"ok": …, "errno": …, "value": …} as
# JSON: a call stuck in the kernel can then only hang the child, which the test kills.
_PROBE = textwrap.dedent("""
    import json, os, sys
    op, path = sys.argv[1], sys.argv[2]
    arg = sys.argv[3] if len(sys.argv) > 3 else None
    try:
        if op == "listdir":
            value = sorted(os.listdir(path))
        elif op == "read":
            with open(path, "rb") as f:
                skip = int(arg or 0)
                if skip:
                    f.seek(skip)
                data = f.read()
            value = len(data)
        elif op == "write":  # arg: a local file whose bytes are written
            with open(arg, "rb") as src:
                data = src.read()
            with open(path, "wb") as f:
                f.write(data)
            value = None
        elif op == "stat":
            value = os.stat(path).st_size
        else:
            raise SystemExit("unknown op " + op)
        print(json.dumps({"ok": True, "errno": 0, "value": value}))
    except OSError as e:
        print(json.dumps({"ok": False, "errno": e.errno, "value": str(e)}))
""")


def probe(op, path, arg=None, timeout=PROBE_TIMEOUT_S):
    """Runs `op` (listdir, read, write, stat) on `path` in a child; returns (ok, errno, value).
    For write, `arg` is a local file holding the bytes (see data_file).
    Fails the test if the call does not return within `timeout` (a hang)."""
    cmd = [sys.executable, "-c", _PROBE, op, str(path)] + ([str(arg)] if arg is not None else [])
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail(f"{op} {path} hung: no return within {timeout} s")
    try:
        res = json.loads(out)
    except ValueError:
        pytest.fail(f"probe {op} {path} crashed: {err.decode(errors='replace')}")
    return res["ok"], res["errno"], res["value"]


def data_file(tmp_path, name, data):
    """A local file holding `data`, for probe("write", …)."""
    path = tmp_path / "probe-data" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def start_probe(op, path, arg=None):
    """Starts a probe without waiting; finish it with finish_probe()."""
    cmd = [sys.executable, "-c", _PROBE, op, str(path)] + ([str(arg)] if arg is not None else [])
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def finish_probe(proc, what, timeout=PROBE_TIMEOUT_S):
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail(f"{what} hung: no return within {timeout} s")
    try:
        res = json.loads(out)
    except ValueError:
        pytest.fail(f"probe {what} crashed: {err.decode(errors='replace')}")
    return res["ok"], res["errno"], res["value"]


def errname(code):
    return errno.errorcode.get(code, str(code))


def retry_cmd(run, cmd, attempts=3, **kwargs):
    """Runs `cmd` until it succeeds, at most `attempts` times; returns (result, failures) where
    failures lists the error output of each failed attempt. A failure must say something."""
    failures = []
    for _ in range(attempts):
        res = run(cmd, **kwargs)
        if res.returncode == 0:
            return res, failures
        msg = (res.stdout + res.stderr).decode(errors="replace").strip()
        assert msg, f"{cmd!r} failed with status {res.returncode} and said nothing"
        failures.append(msg)
    return res, failures


def pending_uploads(mount):
    """The number of uploads `.asanafs-status` says are not yet in Asana."""
    text = (mount.path / ".asanafs-status").read_text(errors="replace")
    m = re.search(r"uploads not yet in Asana: (\d+)", text)
    assert m, f"unexpected .asanafs-status:\n{text}"
    return int(m.group(1))


def wait_uploads_settled(mount, deadline_s=120):
    """Waits until the daemon has no upload left (all landed or found to have landed)."""
    wait_until(lambda: pending_uploads(mount) == 0, "no upload pending in .asanafs-status",
               deadline_s=deadline_s, interval_s=0.25)


def remount_on(make_mount, old, emu, options=()):
    """write_helpers.remount for a mount of an emulator the test made itself (`emu`)."""
    mnt = make_mount(options=options, emu=emu, start=False)
    mnt.cache_dir = old.cache_dir
    mnt.options = [f"cache_dir={old.cache_dir}" if o.startswith("cache_dir=") else o
                   for o in mnt.options]
    return mnt.start()


def daemon_alive(mount):
    return mount.proc is not None and mount.proc.poll() is None
