"""Deadlines: when Asana stops answering, calls fail with EIO/ETIMEDOUT instead of hanging.

The emulator is frozen with SIGSTOP (its sockets stay open, so connections and
requests simply hang) in the middle of a read, a listing and an upload, or it
serves replies slower than the deadline. The mount runs with `-o timeout=3`.
Each call must return an error (checked in a child process with a generous
limit, never a tight wall-clock bound), `fusermount3 -u` must work, and after
the emulator is back everything works again and staged uploads land by
themselves.
"""

import os

import pytest

from asana_tree import World
from fault_helpers import (DEADLINE_ERRNOS, FAULT_LINES, check_exactly, data_file, errname,
                           finish_probe, frozen, probe, remount_on, start_probe, task_by_name,
                           wait_uploads_settled, write_seed)
from write_helpers import random_bytes, wait_until

TIMEOUT_S = 3
BIG = 1_500_000


@pytest.fixture
def emu(make_emulator, tmp_path):
    seed = write_seed(tmp_path / "deadline.json", [{"name": "W", "projects": [{"name": "P", "tasks": [
        {"name": "T", "attachments": [{"name": "big.bin", "size": BIG},
                                      {"name": "small.txt", "content": "small\n"}]},
        {"name": "Fresh", "attachments": [{"name": "x.txt", "content": "x\n"}]},
        {"name": "Up"}]}]}])
    # 128 KiB/s per connection: a download of big.bin takes seconds, long enough to freeze
    # the emulator in the middle of it.
    return make_emulator(seed=seed, extra_args=["--conn-bandwidth", "131072"])


def mount_with_deadline(make_mount, emu, **kwargs):
    mnt = make_mount(emu=emu, options=[f"timeout={TIMEOUT_S}"], **kwargs)
    mnt.allow(FAULT_LINES)
    return mnt


def assert_deadline_error(result, what):
    ok, code, value = result
    assert not ok, f"{what} succeeded although the emulator is frozen: {value}"
    assert code in DEADLINE_ERRNOS, f"{what} failed with {errname(code)} ({value}), not EIO/ETIMEDOUT"


def test_frozen_in_the_middle_of_a_read(emu, make_mount):
    mnt = mount_with_deadline(make_mount, emu)
    path = mnt.path / "W" / "P" / "T" / "big.bin"
    want = emu.content(World(emu.state()).attachments[0]["gid"])
    reader = start_probe("read", path)
    wait_until(lambda: emu.stats()["blob_bytes"] >= 200_000, "the download has started",
               deadline_s=60, interval_s=0.05)
    with frozen(emu):
        assert_deadline_error(finish_probe(reader, "read of big.bin"), "read of big.bin")
        assert mnt.proc.poll() is None, "the daemon died"
    # Back: the same file reads completely and correctly.
    assert path.read_bytes() == want


def test_frozen_during_a_listing_then_umount_works(emu, make_mount):
    mnt = mount_with_deadline(make_mount, emu)
    with frozen(emu):
        assert_deadline_error(probe("listdir", mnt.path / "W" / "P" / "Fresh"), "ls of a task")
        assert_deadline_error(probe("stat", mnt.path / "W" / "P" / "Fresh" / "x.txt"),
                              "stat in a task")
        # Unmounting does not wait for Asana.
        assert mnt.unmount() == 0, "asanafs did not exit 0 after fusermount3 -u while Asana hangs"
    again = mount_with_deadline(make_mount, emu)
    assert sorted(os.listdir(again.path / "W" / "P" / "Fresh")) == ["x.txt"]


def test_listing_recovers_after_the_emulator_resumes(emu, make_mount):
    mnt = mount_with_deadline(make_mount, emu)
    with frozen(emu):
        assert_deadline_error(probe("listdir", mnt.path / "W" / "P" / "T"), "ls of a task")
    assert sorted(os.listdir(mnt.path / "W" / "P" / "T")) == ["big.bin", "small.txt"]
    assert (mnt.path / "W" / "P" / "T" / "small.txt").read_bytes() == b"small\n"


def test_frozen_during_an_upload_then_it_lands_by_itself(emu, make_mount, tmp_path):
    mnt = mount_with_deadline(make_mount, emu)
    task = task_by_name(emu, "Up")
    folder = mnt.path / "W" / "P" / "Up"
    os.listdir(folder)
    data = random_bytes(300_000, "frozen-upload")
    with frozen(emu):
        ok, code, value = probe("write", folder / "staged.bin", data_file(tmp_path, "staged", data))
        assert not ok, "close() reported success although the upload cannot have happened"
        assert code in DEADLINE_ERRNOS, f"close failed with {errname(code)} ({value})"
        # The staged file stays visible with its content while Asana is away.
        ok, code, value = probe("read", folder / "staged.bin")
        assert ok and value == len(data), f"staged file not readable: {errname(code)} {value}"
    wait_until(lambda: any(a["name"] == "staged.bin" for a in World(emu.state()).attachments_of(task)),
               "the staged upload landed by itself after the emulator resumed", deadline_s=90)
    wait_uploads_settled(mnt)
    assert mnt.unmount() == 0
    check_exactly(emu, task, {"staged.bin": data})


def test_staged_upload_survives_umount_while_frozen(emu, make_mount, tmp_path):
    mnt = mount_with_deadline(make_mount, emu)
    task = task_by_name(emu, "Up")
    folder = mnt.path / "W" / "P" / "Up"
    os.listdir(folder)
    data = random_bytes(50_000, "umount-frozen")
    with frozen(emu):
        ok, code, _ = probe("write", folder / "later.bin", data_file(tmp_path, "later", data))
        assert not ok and code in DEADLINE_ERRNOS, f"close gave {errname(code)}"
        assert mnt.unmount() == 0, "asanafs did not exit 0 after fusermount3 -u while Asana hangs"
    # The request may still land now: its bytes sat in the frozen emulator's socket buffer.
    # The remount must then notice it instead of uploading it a second time.
    again = remount_on(make_mount, mnt, emu)
    again.allow(FAULT_LINES)
    wait_until(lambda: any(a["name"] == "later.bin" for a in World(emu.state()).attachments_of(task)),
               "the staged upload landed after the remount", deadline_s=90)
    wait_uploads_settled(again)
    assert again.unmount() == 0
    check_exactly(emu, task, {"later.bin": data})


def test_replies_slower_than_the_deadline(emu, make_mount):
    mnt = mount_with_deadline(make_mount, emu)
    emu.set_faults("slow@GET /attachments")
    assert_deadline_error(probe("listdir", mnt.path / "W" / "P" / "Fresh"), "ls with slow replies")
    emu.set_faults("")
    assert sorted(os.listdir(mnt.path / "W" / "P" / "Fresh")) == ["x.txt"]


def test_emulator_killed_in_the_middle_of_a_read(emu, make_mount):
    """SIGKILL instead of SIGSTOP: the connection is refused, the read fails at once with EIO."""
    mnt = mount_with_deadline(make_mount, emu)
    path = mnt.path / "W" / "P" / "T" / "big.bin"
    reader = start_probe("read", path)
    wait_until(lambda: emu.stats()["blob_bytes"] >= 200_000, "the download has started",
               deadline_s=60, interval_s=0.05)
    emu.proc.kill()
    emu.proc.wait()
    assert_deadline_error(finish_probe(reader, "read of big.bin"), "read of big.bin")
    assert mnt.proc.poll() is None, "the daemon died"
    emu.start()  # for the fixture's stop(); the mount now points at a dead port
    assert mnt.unmount() == 0
