"""Uploads that run while a new file is still being written (-o stream_upload).

A file written from its first byte in order starts uploading once stream_upload
bytes are in; its request body is completed only at close, so Asana never holds
a partial file. Anything else (a rewrite, a crash) must leave no trace in Asana
and lose nothing.
"""

import os
import re

import pytest

from fault_helpers import FAULT_LINES, check_exactly, task_by_name, wait_uploads_settled, write_seed
from write_helpers import (KilledMount, counts, named, random_bytes, remount, requests,
                           task_for_writes, wait_until)

MIB = 1024 * 1024
OPTIONS = ("stream_upload=1M",)


def streamed_bytes(mount, name):
    """Bytes sent so far of `name`'s upload while it is written (None: not streaming)."""
    text = (mount.path / ".asanafs-status").read_text(errors="replace")
    m = re.search(r"streaming\t(\d+)/\? bytes\t.*\t" + re.escape(name) + r"$", text, re.M)
    return int(m.group(1)) if m else None


def sending(mount, name):
    return (streamed_bytes(mount, name) or 0) > 0


def start_streaming(mount, f, data, name):
    """Writes `data` to the open file `f` of the mount and waits until its upload sends."""
    f.write(data)
    f.flush()
    wait_until(lambda: sending(mount, name), f"the upload of {name} sends before the close")


def only_content(emulator, task_gid, name):
    found = named(emulator, task_gid, name)
    assert len(found) == 1, f"expected one attachment {name!r}, found {len(found)}"
    return emulator.content(found[0]["gid"])


@pytest.mark.mount_options(*OPTIONS)
def test_a_file_written_in_order_uploads_while_written_and_lands_once_at_close(
        mount, emulator, world):
    (rel, task), = task_for_writes(world)
    data = random_bytes(6 * MIB + 12345, "stream-in-order")
    os.listdir(mount.path / rel)
    emulator.reset_stats()
    with open(mount.path / rel / "big.bin", "wb") as f:
        start_streaming(mount, f, data[:3 * MIB], "big.bin")
        assert counts(emulator) == (0, 0)  # its body is not complete: nothing in Asana yet
        assert named(emulator, task.gid, "big.bin") == []
        f.write(data[3 * MIB:])
    assert only_content(emulator, task.gid, "big.bin") == data
    assert counts(emulator) == (1, 0)
    assert requests(emulator, "POST /attachments") == 1
    assert (mount.path / rel / "big.bin").read_bytes() == data


@pytest.mark.mount_options(*OPTIONS)
def test_a_rewrite_of_sent_bytes_gives_the_upload_up_and_the_file_lands_whole(
        mount, emulator, world):
    (rel, task), = task_for_writes(world)
    data = bytearray(random_bytes(4 * MIB, "stream-rewrite"))
    os.listdir(mount.path / rel)
    emulator.reset_stats()
    with open(mount.path / rel / "patched.bin", "wb") as f:
        start_streaming(mount, f, data[:2 * MIB], "patched.bin")
        f.seek(1000)
        f.write(b"PATCHED")  # bytes that already went out change
        data[1000:1007] = b"PATCHED"
        f.seek(2 * MIB)
        f.write(data[2 * MIB:])
    assert only_content(emulator, task.gid, "patched.bin") == bytes(data)
    assert counts(emulator) == (1, 0)


@pytest.mark.mount_options(*OPTIONS)
def test_cp_over_an_existing_file_streams_then_deletes_the_old_version(mount, emulator, world,
                                                                       tmp_path):
    (rel, task), = task_for_writes(world)
    old, new = random_bytes(100_000, "old"), random_bytes(5 * MIB, "new")
    (tmp_path / "old.bin").write_bytes(old)
    (tmp_path / "new.bin").write_bytes(new)
    dest = str(mount.path / rel / "data.bin")
    assert os.system(f"cp '{tmp_path}/old.bin' '{dest}'") == 0
    emulator.reset_stats()
    assert os.system(f"cp '{tmp_path}/new.bin' '{dest}'") == 0
    assert only_content(emulator, task.gid, "data.bin") == new
    assert counts(emulator) == (1, 1)


def test_kill_9_while_streaming_leaves_nothing_in_asana_and_keeps_the_bytes(
        asanafs_bin, make_mount, emulator, world, tmp_path):
    (rel, task), = task_for_writes(world)
    data = random_bytes(3 * MIB, "stream-crash")
    killed = KilledMount(asanafs_bin, tmp_path, emulator, name="streamcrash", options=OPTIONS)
    with killed as first:
        os.listdir(first.path / rel)
        emulator.reset_stats()
        f = open(first.path / rel / "torn.bin", "wb")
        start_streaming(first, f, data, "torn.bin")
        killed.kill()
        try:
            f.close()
        except OSError:
            pass  # the daemon is gone: ENOTCONN
    assert named(emulator, task.gid, "torn.bin") == [], "a partial body became an attachment"
    assert counts(emulator) == (0, 0)
    again = remount(make_mount, first)
    again.allow(r"still being written when asanafs stopped")
    recovered = again.cache_dir / "recovered"
    kept = [p for p in recovered.iterdir() if p.name.endswith("-torn.bin")]
    assert len(kept) == 1, sorted(os.listdir(recovered))
    assert kept[0].read_bytes() == data  # never published, never lost
    assert named(emulator, task.gid, "torn.bin") == []


def test_streamed_uploads_under_429_resets_and_lost_replies_land_exactly_once(
        make_emulator, make_mount, tmp_path):
    seed = write_seed(tmp_path / "stream.json",
                      [{"name": "W", "projects": [{"name": "P", "tasks": [{"name": "Up"}]}]}])
    emulator = make_emulator(seed=seed, faults=("429:0.3@POST /attachments;"
                                                "reset:0.2@POST /attachments;"
                                                "lostreply:0.2@POST /attachments"),
                             extra_args=["--fault-seed", "7"])
    mount = make_mount(emu=emulator, options=OPTIONS)
    mount.allow(FAULT_LINES)
    task = task_by_name(emulator, "Up")
    files = {f"s{i}.bin": random_bytes(2 * MIB + 999 * i, f"stream-fault{i}") for i in range(6)}
    up = mount.path / "W" / "P" / "Up"
    os.listdir(up)
    for name, data in files.items():
        with open(up / name, "wb") as f:
            f.write(data)  # a failed close is retried in the background
            try:
                f.close()
            except OSError:
                pass
    wait_uploads_settled(mount)
    assert emulator.stats()["faults_injected"] >= 3
    assert mount.unmount() == 0
    check_exactly(emulator, task, files)
