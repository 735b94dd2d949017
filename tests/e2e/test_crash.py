"""kill -9 of the daemon in the middle of uploads: the next mount finishes them, each exactly once.

The emulator answers every API request 300 ms late so that uploads are in
flight when the daemon dies; some may even have landed without the daemon
hearing back, which the remount must notice instead of uploading again.
"""

import os
import subprocess
import time

import pytest

from asana_tree import World
from write_helpers import (KilledMount, random_bytes, remount, task_for_writes, wait_until,
                           write_local)

FILES = 20
SYS_CLOSE = 3  # x86-64


def closing_or_gone(proc):
    """True once `cp` sits in close() (its data written, the flush sent) or has exited."""
    if proc.poll() is not None:
        return True
    try:
        with open(f"/proc/{proc.pid}/syscall", encoding="ascii") as f:
            return f.read().split()[0] == str(SYS_CLOSE)
    except (OSError, IndexError):
        return proc.poll() is not None


@pytest.mark.emulator(latency_ms=300)
def test_kill_9_during_uploads_then_remount_finishes_each_once(asanafs_bin, make_mount, emulator,
                                                               world, tmp_path):
    (rel, task), = task_for_writes(world)
    files = {f"crash-{i:02d}.bin": random_bytes(20_000 + 4099 * i, f"crash{i}") for i in range(FILES)}
    for name, data in files.items():
        write_local(tmp_path / "src" / name, data)

    # More FUSE threads than copies: every close() reaches the daemon while the first uploads
    # wait on the emulator. A file the daemon never saw closed is, by design, not published.
    killed = KilledMount(asanafs_bin, tmp_path, emulator, name="crashmnt",
                         options=["max_threads=32"])
    with killed as first:
        os.listdir(first.path / rel)  # list every level now: the copies below only create and write
        emulator.reset_stats()
        copies = [subprocess.Popen(["cp", str(tmp_path / "src" / name), str(first.path / rel) + "/"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                  for name in files]
        wait_until(lambda: all(closing_or_gone(cp) for cp in copies),
                   "every cp has written its file and is closing it", deadline_s=20,
                   interval_s=0.01)
        deadline = time.monotonic() + 1.0
        while emulator.stats()["uploads"] == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        killed.kill()
        landed_at_kill = emulator.stats()["uploads"]
        for cp in copies:
            cp.wait(timeout=60)
        first_log = first.stderr_text()
    assert landed_at_kill < FILES, (
        f"all {FILES} uploads had landed before the kill: the test did not test a crash")

    again = remount(make_mount, first)

    def all_landed():
        w = World(emulator.state())
        names = [a["name"] for a in w.attachments_of(task.gid)]
        return all(names.count(n) >= 1 for n in files)

    try:
        wait_until(all_landed, f"all {FILES} files in the emulator after the remount")
    except BaseException:
        recovered = again.cache_dir / "recovered"
        print(f"uploads at kill: {landed_at_kill}\n--- killed daemon's log ---\n{first_log}\n"
              f"--- recovered/: {sorted(os.listdir(recovered)) if recovered.exists() else None}")
        raise
    assert again.unmount() == 0  # no daemon left that could upload again
    print(f"uploads landed at the kill: {landed_at_kill}\n--- remount log ---\n"
          f"{again.stderr_text()}")

    w = World(emulator.state())
    atts = w.attachments_of(task.gid)
    names = [a["name"] for a in atts]
    dups = sorted({n for n in names if names.count(n) > 1})
    assert not dups, f"uploaded more than once: {dups}"
    assert sorted(names) == sorted(files), f"unexpected attachments: {sorted(set(names) - set(files))}"
    wrong = [a["name"] for a in atts if emulator.content(a["gid"]) != files[a["name"]]]
    assert not wrong, f"content differs: {wrong}"
    assert emulator.stats()["uploads"] == FILES
