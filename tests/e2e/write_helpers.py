"""Helpers for the write-path e2e tests (test_write.py, test_rsync.py, test_crash.py).

They pick plain (ASCII, collision-free) tasks and projects of the emulator's
world so the tests do not depend on the naming rules, read the emulator's
state by task, poll with a deadline, and manage mounts the conftest fixtures
do not cover: a remount that reuses another mount's cache dir, and a daemon
the test kills with SIGKILL.
"""

import hashlib
import os
import signal
import subprocess
import time

import pytest

from asana_tree import World, ref
from conftest import Mount, is_mounted

POLL_DEADLINE_S = 60
MAX_FILE_BYTES = 100 * 1024 * 1024  # 104857600: Asana's limit, enforced at write()

# Daemon log lines a test that injects upload failures expects to see.
UPLOAD_FAILURE_LINES = (r"upload of .* (failed|refused)|"
                        r"(flush|fsync|release|rename) failed with errno 5 \(Input/output error\)")


def is_plain(component):
    """True for names the naming rules leave alone and that need no quoting in a shell."""
    return (component.isascii() and component.isprintable() and component not in ("", ".", "..")
            and "/" not in component and "[" not in component and "\\" not in component
            and not component.startswith("."))


def _plain_path(rel):
    return all(is_plain(c) for c in rel.split("/"))


def plain_tasks(world):
    """[(relative path, Node)] of top-level tasks whose whole path is plain, sorted by path."""
    return sorted((rel, n) for rel, n in world.expected_tree().items()
                  if n.kind_detail == "task" and rel.count("/") == 2 and _plain_path(rel))


def plain_projects(world):
    return sorted((rel, n) for rel, n in world.expected_tree().items()
                  if n.kind_detail == "project" and _plain_path(rel))


def task_for_writes(world, count=1):
    """`count` distinct plain tasks, those with the fewest attachments and subtasks first."""
    tasks = plain_tasks(world)
    tasks.sort(key=lambda t: (len(world.attachments_of(t[1].gid)) + len(world.subtasks_of(t[1].gid)),
                              t[0]))
    assert len(tasks) >= count, f"the seed has fewer than {count} plain tasks"
    return tasks[:count]


def project_for_writes(world):
    """The plain project with the fewest tasks."""
    projects = plain_projects(world)
    assert projects, "the seed has no plain project"
    return min(projects, key=lambda p: (len(world.tasks_of_project(p[1].gid)), p[0]))


def seeded_files(world, max_size=1024 * 1024):
    """[(relative path, Node)] of asana-hosted, non-empty files under a plain task path whose name
    is plain and unique in their task."""
    out = []
    for rel, node in sorted(world.expected_tree().items()):
        if node.kind_detail != "attachment" or not (0 < node.size <= max_size):
            continue
        if not _plain_path(rel) or rel.count("/") != 3:
            continue
        task_gid = ref(node.record.get("parent"))
        same = [a for a in world.attachments_of(task_gid) if a["name"] == node.record["name"]]
        if len(same) == 1 and rel.rsplit("/", 1)[1] == node.record["name"]:
            out.append((rel, node))
    return out


def attachments_of(emulator, task_gid):
    """Attachments of `task_gid` in the emulator's current state."""
    return World(emulator.state()).attachments_of(task_gid)


def named(emulator, task_gid, name):
    """The attachments of `task_gid` called `name` (a list: Asana allows duplicates)."""
    return [a for a in attachments_of(emulator, task_gid) if a["name"] == name]


def names_of(emulator, task_gid):
    return sorted(a["name"] for a in attachments_of(emulator, task_gid))


def counts(emulator):
    """(uploads, deletes) the emulator saw since its last reset_stats()."""
    stats = emulator.stats()
    return stats["uploads"], stats["deletes"]


def requests(emulator, route):
    return emulator.stats()["requests"].get(route, 0)


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def wait_until(predicate, what, deadline_s=POLL_DEADLINE_S, interval_s=0.2):
    """Polls `predicate` until it returns a truthy value (returned) or fails the test."""
    deadline = time.monotonic() + deadline_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"not reached within {deadline_s} s: {what}")
        time.sleep(interval_s)


def random_bytes(size, seed):
    """Deterministic incompressible-looking bytes (no /dev/urandom: failures must reproduce)."""
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(f"{seed}:{counter}".encode()).digest()
        counter += 1
    return bytes(out[:size])


def write_local(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def remount(make_mount, old, options=(), name=None):
    """Mounts again on a new mountpoint with `old`'s cache dir (journal, overlay, staging).

    `old` must have exited first: the cache dir is locked by its daemon.
    """
    mnt = make_mount(options=options, name=name, start=False)
    mnt.cache_dir = old.cache_dir
    mnt.options = [f"cache_dir={old.cache_dir}" if o.startswith("cache_dir=") else o
                   for o in mnt.options]
    return mnt.start()


class KilledMount:
    """A mount whose daemon the test kills; not checked for a clean exit, always cleaned up."""

    def __init__(self, asanafs_bin, workdir, emulator, name, options=()):
        self.mount = Mount(asanafs_bin, workdir, emulator, options=options, name=name)

    def __enter__(self):
        self.mount.start()
        return self.mount

    def kill(self):
        """SIGKILL the daemon, then detach the dead mount (`fusermount3 -u -z`)."""
        proc = self.mount.proc
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=20)
        self.mount.returncode = proc.returncode
        if is_mounted(self.mount.mountpoint):
            res = subprocess.run(["fusermount3", "-u", "-z", str(self.mount.mountpoint)],
                                 capture_output=True, text=True)
            assert res.returncode == 0, f"fusermount3 -u -z failed: {res.stderr}"
        assert not is_mounted(self.mount.mountpoint)

    def __exit__(self, *exc):
        proc = self.mount.proc
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        if is_mounted(self.mount.mountpoint):
            subprocess.run(["fusermount3", "-u", "-z", str(self.mount.mountpoint)],
                           capture_output=True)
        return False
