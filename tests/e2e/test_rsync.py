"""rsync into the mount: one upload per file, folders become tasks, and a second run copies nothing.

Also the temporary-name rule rsync relies on: `.name.XXXXXX` is not uploaded at
close but once, under its final name, at rename().
"""

import errno
import os

from asana_tree import World
from conftest import run
from write_helpers import (UPLOAD_FAILURE_LINES, counts, named, names_of, project_for_writes,
                           random_bytes, remount, requests, task_for_writes, write_local)

FOLDERS = 10
FILES_PER_FOLDER = 20


def make_source(root):
    files = {}
    for f in range(FOLDERS):
        for i in range(FILES_PER_FOLDER):
            rel = f"rs-folder-{f:02d}/file-{i:02d}.txt"
            data = random_bytes(100 + 37 * i + 11 * f, f"rsync:{rel}")
            write_local(root / rel, data)
            files[rel] = data
    # Fixed, distinct times so the quick check (size + mtime) has something real to compare.
    for rel in files:
        os.utime(root / rel, ns=(1_650_000_000_000_000_000, 1_600_000_000_000_000_000 + 1000 * len(rel)))
    for f in range(FOLDERS):
        os.utime(root / f"rs-folder-{f:02d}", ns=(1_650_000_000_000_000_000, 1_610_000_000_000_000_000))
    return files


def rsync(src, dst, *extra):
    res = run(["rsync", "-a", *extra, f"{src}/", f"{dst}/"], timeout=300)
    text = (res.stdout + res.stderr).decode(errors="replace")
    assert res.returncode == 0, f"rsync exited with {res.returncode}:\n{text}"
    return res.stdout.decode(errors="replace")


def transfers(itemized):
    """Lines of `--itemize-changes` output that mean a file was sent or a directory created."""
    return [line for line in itemized.splitlines() if line.startswith((">f", "cd"))]


def check_landed(emulator, project_gid, files):
    w = World(emulator.state())
    tasks = {t["name"]: t for t in w.tasks_of_project(project_gid)}
    missing, wrong = [], []
    for f in range(FOLDERS):
        folder = f"rs-folder-{f:02d}"
        assert folder in tasks, f"no task {folder!r}; project has {sorted(tasks)}"
        by_name = {}
        for att in w.attachments_of(tasks[folder]["gid"]):
            by_name.setdefault(att["name"], []).append(att)
        for i in range(FILES_PER_FOLDER):
            name = f"file-{i:02d}.txt"
            atts = by_name.get(name, [])
            if len(atts) != 1:
                missing.append(f"{folder}/{name} x{len(atts)}")
            elif emulator.content(atts[0]["gid"]) != files[f"{folder}/{name}"]:
                wrong.append(f"{folder}/{name}")
        extra = sorted(set(by_name) - {f"file-{i:02d}.txt" for i in range(FILES_PER_FOLDER)})
        assert not extra, f"unexpected attachments in {folder}: {extra}"
    assert not missing, f"not exactly once: {missing}"
    assert not wrong, f"content differs: {wrong}"


def test_rsync_tree_uploads_once_and_second_run_is_a_no_op(mount, make_mount, emulator, world,
                                                           tmp_path):
    prel, project = project_for_writes(world)
    src = tmp_path / "src"
    files = make_source(src)
    emulator.reset_stats()

    itemized = rsync(src, mount.path / prel, "--itemize-changes")
    sent = transfers(itemized)
    assert len([line for line in sent if line.startswith(">f")]) == FOLDERS * FILES_PER_FOLDER
    assert len([line for line in sent if line.startswith("cd")]) == FOLDERS
    check_landed(emulator, project.gid, files)
    assert counts(emulator) == (FOLDERS * FILES_PER_FOLDER, 0)
    assert requests(emulator, "POST /tasks") == FOLDERS

    emulator.reset_stats()
    itemized = rsync(src, mount.path / prel, "--itemize-changes")
    assert transfers(itemized) == [], f"second run transferred:\n{itemized}"
    assert counts(emulator) == (0, 0)
    assert requests(emulator, "POST /tasks") == 0

    assert mount.unmount() == 0
    again = remount(make_mount, mount)
    emulator.reset_stats()
    itemized = rsync(src, again.path / prel, "--itemize-changes")
    assert transfers(itemized) == [], f"run after remount transferred:\n{itemized}"
    assert counts(emulator) == (0, 0)
    assert requests(emulator, "POST /tasks") == 0
    check_landed(emulator, project.gid, files)


def test_temporary_name_is_uploaded_once_at_rename(mount, emulator, world):
    (rel, task), = task_for_writes(world)
    tdir = mount.path / rel
    data = random_bytes(7000, "temp")
    emulator.reset_stats()

    with open(tdir / ".report.csv.a1B2c3", "wb") as f:
        f.write(data)
    assert counts(emulator) == (0, 0), "a temporary file was uploaded at close"
    assert names_of(emulator, task.gid) == []

    os.rename(tdir / ".report.csv.a1B2c3", tdir / "report.csv")

    atts = named(emulator, task.gid, "report.csv")
    assert len(atts) == 1 and emulator.content(atts[0]["gid"]) == data
    assert names_of(emulator, task.gid) == ["report.csv"]
    assert counts(emulator) == (1, 0)
    assert sorted(os.listdir(tdir)) == ["report.csv"]
    assert (tdir / "report.csv").read_bytes() == data


def test_rename_of_temporary_file_reports_the_upload_failure(mount, emulator, world):
    mount.allow(UPLOAD_FAILURE_LINES)
    (rel, task), = task_for_writes(world)
    tdir = mount.path / rel
    data = random_bytes(3000, "temp-fail")
    emulator.set_faults("500@POST /attachments")

    with open(tdir / ".final.bin.Zz9Yy8", "wb") as f:
        f.write(data)  # the close must succeed: nothing is uploaded yet
    try:
        os.rename(tdir / ".final.bin.Zz9Yy8", tdir / "final.bin")
    except OSError as e:
        assert e.errno == errno.EIO, e  # a 500 from Asana
    else:
        raise AssertionError("rename() succeeded although the upload failed")
    assert named(emulator, task.gid, "final.bin") == []
    emulator.set_faults("")
    # The rename did not happen: the file is still there under its temporary name.
    assert "final.bin" not in os.listdir(tdir)
    assert (tdir / ".final.bin.Zz9Yy8").read_bytes() == data
