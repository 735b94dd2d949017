"""The fault matrix of issue 5: nothing is lost, corrupted or duplicated when Asana fails.

The emulator answers with 10 % 429 (Retry-After), 5 % 500, 2 % resets, cuts
2 % of downloads and uploads half-way through the body and loses the reply of
2 % of uploads after storing them; download URLs live 2 seconds. Under it, 50 `cp` into a task, 50 `cp` out of one and two `rsync -a`
runs must end byte-identical (sha256), or fail with a clear message and succeed
when simply run again. The emulator's state is the judge: every file exactly
once, with exactly its bytes. Draws come from a fixed --fault-seed.

Also here: a reply lost after the upload landed, at close and at rsync's
rename (no duplicate), kill -9 of the daemon in the middle of downloads (the
cache never serves torn content), and cut downloads with 1-second URLs.
"""

import os
import subprocess

import pytest

from asana_tree import World
from conftest import run
from fault_helpers import (FAULT_LINES, FAULT_MATRIX, FAULT_SEED, check_exactly, file_sha,
                           remount_on, retry_cmd, sha256, task_by_name, tree_shas,
                           wait_uploads_settled, write_seed)
from write_helpers import KilledMount, random_bytes, wait_until, write_local

FILES = 50


def download_sizes():
    # From 1 byte to 3 MiB: single reads, several 1 MiB ranges, read-ahead windows.
    sizes = [1 + (i * 104_729) % 700_000 for i in range(FILES)]
    sizes[7] = 3 * 1024 * 1024 + 17
    sizes[23] = 1024 * 1024
    sizes[41] = 2 * 1024 * 1024 - 1
    return sizes


@pytest.fixture
def matrix_emulator(make_emulator, tmp_path):
    seed = write_seed(tmp_path / "matrix.json", [{"name": "W", "projects": [{"name": "P", "tasks": [
        {"name": "Down", "attachments": [{"name": f"down-{i:02d}.bin", "size": s}
                                         for i, s in enumerate(download_sizes())]},
        {"name": "Up"}, {"name": "Sync"}, {"name": "Once"}]}]}])
    return make_emulator(seed=seed, url_ttl_s=2, faults=FAULT_MATRIX,
                         extra_args=["--fault-seed", str(FAULT_SEED)])


def test_cp_and_rsync_under_the_fault_matrix(matrix_emulator, make_mount, tmp_path):
    emulator = matrix_emulator
    mount = make_mount(emu=emulator)
    mount.allow(FAULT_LINES)
    base = mount.path / "W" / "P"
    failures = {}

    # -- 50 cp out: each file byte-identical to the emulator's bytes -------------------------
    want = {a["name"]: a["sha256"] for a in World(emulator.state()).attachments
            if a["name"].startswith("down-")}
    assert len(want) == FILES
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    for name in sorted(want):
        res, failed = retry_cmd(run, ["cp", str(base / "Down" / name), str(out_dir) + "/"])
        assert res.returncode == 0, f"cp out {name} failed 3 times: {failed}"
        if failed:
            failures[f"cp out {name}"] = failed
    got = tree_shas(out_dir)
    assert got == want, f"files differ after cp out: {sorted(k for k in want if got.get(k) != want[k])}"

    # -- 50 cp in: each lands exactly once with its bytes ------------------------------------
    files = {f"up-{i:02d}.bin": random_bytes(1 + (i * 65_537) % 400_000, f"up{i}")
             for i in range(FILES)}
    src = tmp_path / "src"
    for name, data in files.items():
        write_local(src / name, data)
    for name in sorted(files):
        res, failed = retry_cmd(run, ["cp", str(src / name), str(base / "Up") + "/"])
        assert res.returncode == 0, f"cp in {name} failed 3 times: {failed}"
        if failed:
            failures[f"cp in {name}"] = failed

    # -- rsync -a in, then rsync -a out of the task that has the downloads ------------------
    tree = {f"sync-{i:02d}.dat": random_bytes(3000 + 40_111 * i, f"sync{i}") for i in range(20)}
    for name, data in tree.items():
        write_local(tmp_path / "tree" / name, data)
    res, failed = retry_cmd(run, ["rsync", "-a", str(tmp_path / "tree") + "/",
                                  str(base / "Sync") + "/"], timeout=300)
    assert res.returncode == 0, f"rsync in failed 3 times: {failed}"
    if failed:
        failures["rsync in"] = failed
    res, failed = retry_cmd(run, ["rsync", "-a", str(base / "Down") + "/",
                                  str(tmp_path / "rsync-out") + "/"], timeout=300)
    assert res.returncode == 0, f"rsync out failed 3 times: {failed}"
    if failed:
        failures["rsync out"] = failed
    got = tree_shas(tmp_path / "rsync-out")
    assert got == want, f"files differ after rsync out: {sorted(k for k in want if got.get(k) != want[k])}"

    # -- the emulator's state: uploads that failed at close land by themselves -------------
    up, sync = task_by_name(emulator, "Up"), task_by_name(emulator, "Sync")

    def landed(task, expected):
        def check():
            names = [a["name"] for a in World(emulator.state()).attachments_of(task)]
            return set(expected) <= set(names)
        return check

    wait_until(landed(up, files), "every cp'd file in the emulator", deadline_s=120)
    wait_until(landed(sync, tree), "every rsync'd file in the emulator", deadline_s=120)
    wait_uploads_settled(mount)
    stats = emulator.stats()
    assert mount.unmount() == 0  # nothing left that could still upload
    check_exactly(emulator, up, files)
    check_exactly(emulator, sync, tree)
    # The matrix really fired, of every kind that has a counter to show it.
    assert stats["faults_injected"] >= 20, stats
    print(f"fault stats: {stats}\nretried commands: {len(failures)}")
    for what, msgs in failures.items():
        print(f"  {what}: {msgs}")


def test_lost_reply_to_an_upload_makes_no_duplicate(make_emulator, make_mount, tmp_path):
    """The upload lands but the connection dies before the reply: asanafs must find it
    instead of sending it again."""
    seed = write_seed(tmp_path / "once.json",
                      [{"name": "W", "projects": [{"name": "P", "tasks": [{"name": "Once"}]}]}])
    emulator = make_emulator(seed=seed)
    mount = make_mount(emu=emulator)
    mount.allow(FAULT_LINES)
    task = task_by_name(emulator, "Once")
    files = {f"lost-{i}.bin": random_bytes(10_000 + i * 777, f"lost{i}") for i in range(3)}
    for name, data in files.items():
        write_local(tmp_path / "src" / name, data)
    os.listdir(mount.path / "W" / "P" / "Once")
    emulator.set_faults("lostreply@POST /attachments")
    for name in files:
        run(["cp", str(tmp_path / "src" / name), str(mount.path / "W" / "P" / "Once") + "/"])
    emulator.set_faults("")
    wait_uploads_settled(mount)
    assert mount.unmount() == 0
    check_exactly(emulator, task, files)


def test_lost_reply_to_an_rsync_upload_makes_no_duplicate(make_emulator, make_mount, tmp_path):
    """rsync uploads at rename(): when the reply is lost the rename must not fail (or a plain
    retry of rsync sends the file a second time)."""
    seed = write_seed(tmp_path / "rs.json",
                      [{"name": "W", "projects": [{"name": "P", "tasks": [{"name": "Sync"}]}]}])
    emulator = make_emulator(seed=seed)
    mount = make_mount(emu=emulator)
    mount.allow(FAULT_LINES)
    task = task_by_name(emulator, "Sync")
    tree = {f"r{i}.dat": random_bytes(20_000 + 999 * i, f"rs{i}") for i in range(2)}
    for name, data in tree.items():
        write_local(tmp_path / "tree" / name, data)
    dest = str(mount.path / "W" / "P" / "Sync") + "/"
    os.listdir(dest)
    emulator.set_faults("lostreply@POST /attachments")
    first = run(["rsync", "-a", str(tmp_path / "tree") + "/", dest])
    emulator.set_faults("")
    again = run(["rsync", "-a", str(tmp_path / "tree") + "/", dest])
    assert again.returncode == 0, again.stderr.decode(errors="replace")
    wait_uploads_settled(mount)
    assert mount.unmount() == 0
    print(f"first rsync: {first.returncode} {first.stderr.decode(errors='replace')}")
    check_exactly(emulator, task, tree)


def test_kill_9_during_downloads_never_serves_torn_content(make_emulator, asanafs_bin,
                                                           make_mount, tmp_path):
    """Downloads crawl (64 KiB/s per connection); the daemon dies half-way. The remount must
    fetch the missing bytes instead of serving a torn file from its cache."""
    sizes = {f"big-{i}.bin": 400_000 + 1234 * i for i in range(3)}
    seed = write_seed(tmp_path / "crash.json", [{"name": "W", "projects": [{"name": "P", "tasks": [
        {"name": "T", "attachments": [{"name": n, "size": s} for n, s in sizes.items()]}]}]}])
    emulator = make_emulator(seed=seed, extra_args=["--conn-bandwidth", "65536"])
    want = {a["name"]: a["sha256"] for a in World(emulator.state()).attachments}
    tdir = ("W", "P", "T")
    killed = KilledMount(asanafs_bin, tmp_path, emulator, name="dlmnt")
    with killed as first:
        folder = first.path.joinpath(*tdir)
        cats = [subprocess.Popen(["cat", str(folder / n)], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL) for n in sizes]
        wait_until(lambda: emulator.stats()["blob_bytes"] >= 200_000,
                   "some bytes downloaded before the kill", deadline_s=60, interval_s=0.05)
        killed.kill()
        for cat in cats:
            cat.wait(timeout=60)
        at_kill = emulator.stats()["blob_bytes"]
    assert at_kill < sum(sizes.values()), "every download finished before the kill"

    again = remount_on(make_mount, first, emulator)
    folder = again.path.joinpath(*tdir)
    got = {n: file_sha(folder / n) for n in sizes}
    assert got == want, "a file read after the crash differs from the emulator's bytes"
    # The remount fetched what was missing (and possibly more), never less.
    assert emulator.stats()["blob_bytes"] > at_kill


def test_cut_downloads_and_expired_urls_are_retried(make_emulator, make_mount, tmp_path):
    """Every first download of a file is cut half-way and URLs live 1 s: reads still return
    the exact bytes (ranges resume, URLs refresh)."""
    seed = write_seed(tmp_path / "cut.json", [{"name": "W", "projects": [{"name": "P", "tasks": [
        {"name": "T", "attachments": [{"name": f"c{i}.bin", "size": 300_000 * (i + 1)}
                                      for i in range(3)]}]}]}])
    emulator = make_emulator(seed=seed, url_ttl_s=1, faults="cut:0.5@/_blobs",
                             extra_args=["--fault-seed", "7"])
    mount = make_mount(emu=emulator)
    mount.allow(FAULT_LINES)
    want = {a["name"]: a["sha256"] for a in World(emulator.state()).attachments}
    folder = mount.path / "W" / "P" / "T"
    for name in sorted(want):
        res, failed = retry_cmd(run, ["cat", str(folder / name)])
        assert res.returncode == 0, f"cat {name}: {failed}"
        assert sha256(res.stdout) == want[name], f"{name}: wrong bytes"
    assert emulator.stats()["faults_injected"] >= 1
