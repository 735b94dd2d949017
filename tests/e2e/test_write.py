"""Writing through the mount: uploads at close, overwrite, rm, mv, mkdir, limits, faults, -o ro.

Every outcome is checked in the emulator's state (names, parents, bytes) and
its counters (uploads, deletes), not only through the mount.
"""

import errno
import os
import stat

import pytest

from asana_tree import World, ref
from conftest import run
from write_helpers import (MAX_FILE_BYTES, UPLOAD_FAILURE_LINES, counts, named, names_of,
                           random_bytes, remount, requests, seeded_files, task_for_writes,
                           project_for_writes, wait_until, write_local)


def ok(res):
    return res.returncode == 0


def out(res):
    return (res.stdout + res.stderr).decode(errors="replace")


def only(emulator, task_gid, name):
    """The single attachment `name` of the task; fails if there are zero or several."""
    found = named(emulator, task_gid, name)
    assert len(found) == 1, (f"expected exactly one attachment {name!r} in task {task_gid}, "
                             f"found {len(found)}; the task holds {names_of(emulator, task_gid)}")
    return found[0]


def landed_with(emulator, task_gid, name, data):
    att = only(emulator, task_gid, name)
    assert att["size"] == len(data), f"{name}: size {att['size']} != {len(data)}"
    assert emulator.content(att["gid"]) == data, f"{name}: content differs"
    return att


# ---- new files ---------------------------------------------------------------------------


def test_cp_uploads_once_with_exact_bytes(mount, emulator, world, tmp_path):
    (rel, task), = task_for_writes(world)
    data = random_bytes(200_000, "cp")
    src = write_local(tmp_path / "src" / "report.bin", data)
    emulator.reset_stats()

    res = run(["cp", str(src), str(mount.path / rel) + "/"])
    assert ok(res), out(res)

    landed_with(emulator, task.gid, "report.bin", data)
    assert counts(emulator) == (1, 0)
    assert requests(emulator, "POST /attachments") == 1
    # Visible in the mount at once, with its bytes; no download needed for what was just written.
    assert (mount.path / rel / "report.bin").read_bytes() == data
    assert os.stat(mount.path / rel / "report.bin").st_size == len(data)
    assert emulator.stats()["blob_requests"] == 0


def test_shell_tools_land_exact_bytes(mount, emulator, world, tmp_path):
    """Each tool writes one new file: one upload each, no deletes (shells and dd dup2() the
    descriptor and close the original before writing: no upload of the empty file first)."""
    (rel, task), = task_for_writes(world)
    tdir = mount.path / rel
    big = write_local(tmp_path / "big.src", random_bytes(3 * 1024 * 1024, "dd"))
    tree = tmp_path / "bundle"
    files = {f"part-{i}.txt": random_bytes(1000 + 997 * i, f"bundle{i}") for i in range(5)}
    for name, data in files.items():
        write_local(tree / name, data)

    def in_task(name):
        return lambda: named(emulator, task.gid, name)

    def bundle_complete():
        w = World(emulator.state())
        subs = [t for t in w.subtasks_of(task.gid) if t["name"] == "bundle"]
        return subs and set(files) <= {a["name"] for a in w.attachments_of(subs[0]["gid"])}

    steps = [
        ("echo hi > f", ["sh", "-c", 'echo hi > "$1"', "sh", str(tdir / "hi.txt")],
         in_task("hi.txt"), 1),
        ("touch", ["touch", str(tdir / "empty")], in_task("empty"), 1),
        ("dd bs=1M count=3", ["dd", f"if={big}", f"of={tdir / 'big'}", "bs=1M", "count=3"],
         in_task("big"), 1),
        ("cp -r", ["cp", "-r", str(tree), str(tdir) + "/"], bundle_complete, len(files)),
    ]
    seen = {}
    for label, cmd, landed, _ in steps:
        emulator.reset_stats()
        res = run(cmd)
        assert ok(res), f"{label}: {out(res)}"
        # A file closed unwritten may upload at the last release, just after the tool exits.
        wait_until(landed, f"{label}: its file(s) in the emulator")
        seen[label] = counts(emulator)

    landed_with(emulator, task.gid, "hi.txt", b"hi\n")
    landed_with(emulator, task.gid, "empty", b"")
    landed_with(emulator, task.gid, "big", big.read_bytes())
    # `cp -r` of a directory into a task makes a subtask holding the files.
    w = World(emulator.state())
    subs = [t for t in w.subtasks_of(task.gid) if t["name"] == "bundle"]
    assert len(subs) == 1, f"subtasks of the task: {[t['name'] for t in w.subtasks_of(task.gid)]}"
    for name, data in files.items():
        landed_with(emulator, subs[0]["gid"], name, data)
        assert (tdir / "bundle" / name).read_bytes() == data
    assert seen == {label: (n, 0) for label, _, _, n in steps}, "(uploads, deletes) per tool"


def test_fsync_uploads_before_close(mount, emulator, world):
    (rel, task), = task_for_writes(world)
    data = random_bytes(5000, "fsync")
    emulator.reset_stats()
    fd = os.open(mount.path / rel / "synced.dat", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        assert os.write(fd, data) == len(data)
        os.fsync(fd)
        landed_with(emulator, task.gid, "synced.dat", data)
        assert counts(emulator) == (1, 0)
    finally:
        os.close(fd)
    # Nothing changed after the fsync: the close uploads nothing more.
    landed_with(emulator, task.gid, "synced.dat", data)
    assert counts(emulator) == (1, 0)


def test_files_only_in_task_and_project_directories(mount, world):
    # A file in a project directory is one of its Key resources (test_views.py).
    (prel, _) = project_for_writes(world)
    workspace = prel.split("/")[0]
    for where in (mount.path, mount.path / workspace):
        with pytest.raises(OSError) as e:
            os.close(os.open(where / "nope.txt", os.O_WRONLY | os.O_CREAT, 0o644))
        assert e.value.errno == errno.EPERM, f"create in {where}: {e.value}"


# ---- overwrite, rm, mv -----------------------------------------------------------------


def test_overwrite_with_cp_replaces_the_attachment(mount, emulator, world, tmp_path):
    (rel, task), = task_for_writes(world)
    v1 = write_local(tmp_path / "v1" / "doc.txt", b"version one\n" * 100)
    v2 = write_local(tmp_path / "v2" / "doc.txt", b"second version, longer\n" * 300)
    res = run(["cp", str(v1), str(mount.path / rel / "doc.txt")])
    assert ok(res), out(res)
    old = landed_with(emulator, task.gid, "doc.txt", v1.read_bytes())
    emulator.reset_stats()

    res = run(["cp", str(v2), str(mount.path / rel / "doc.txt")])  # open(O_TRUNC) of an existing file
    assert ok(res), out(res)

    new = landed_with(emulator, task.gid, "doc.txt", v2.read_bytes())
    assert new["gid"] != old["gid"]
    assert old["gid"] not in {a["gid"] for a in emulator.state()["attachments"]}
    assert counts(emulator) == (1, 1)
    assert (mount.path / rel / "doc.txt").read_bytes() == v2.read_bytes()
    assert os.listdir(mount.path / rel).count("doc.txt") == 1


def test_write_into_seeded_file_replaces_it(mount, emulator, world):
    rel, node = seeded_files(world)[0]
    task_gid = ref(node.record["parent"])
    name = node.record["name"]
    before = emulator.content(node.gid)
    emulator.reset_stats()

    fd = os.open(mount.path / rel, os.O_WRONLY)  # no O_TRUNC: patch 4 bytes in place
    try:
        assert os.pwrite(fd, b"EDIT", 3) == 4
    finally:
        os.close(fd)

    expected = before[:3] + b"EDIT" + before[7:]
    new = landed_with(emulator, task_gid, name, expected)
    assert new["gid"] != node.gid
    assert node.gid not in {a["gid"] for a in emulator.state()["attachments"]}
    assert counts(emulator) == (1, 1)
    assert (mount.path / rel).read_bytes() == expected


def test_rm_deletes_the_attachment(mount, emulator, world):
    rel, node = seeded_files(world)[0]
    task_gid = ref(node.record["parent"])
    emulator.reset_stats()

    res = run(["rm", str(mount.path / rel)])
    assert ok(res), out(res)

    assert node.gid not in {a["gid"] for a in emulator.state()["attachments"]}
    assert named(emulator, task_gid, node.record["name"]) == []
    assert counts(emulator) == (0, 1)
    assert requests(emulator, "DELETE /attachments/{gid}") == 1
    assert not (mount.path / rel).exists()


def test_mv_within_a_task(mount, emulator, world):
    rel, node = seeded_files(world)[0]
    task_gid = ref(node.record["parent"])
    data = emulator.content(node.gid)
    new_rel = rel.rsplit("/", 1)[0] + "/renamed-" + node.record["name"]
    emulator.reset_stats()

    res = run(["mv", str(mount.path / rel), str(mount.path / new_rel)])
    assert ok(res), out(res)

    landed_with(emulator, task_gid, new_rel.rsplit("/", 1)[1], data)
    assert named(emulator, task_gid, node.record["name"]) == []
    assert node.gid not in {a["gid"] for a in emulator.state()["attachments"]}
    assert counts(emulator) == (1, 1)
    assert not (mount.path / rel).exists()
    assert (mount.path / new_rel).read_bytes() == data


def test_mv_between_tasks(mount, emulator, world):
    rel, node = seeded_files(world)[0]
    src_task = ref(node.record["parent"])
    (dst_rel, dst), = [t for t in task_for_writes(world, count=2) if t[1].gid != src_task][:1]
    name = node.record["name"]
    data = emulator.content(node.gid)
    emulator.reset_stats()

    res = run(["mv", str(mount.path / rel), str(mount.path / dst_rel) + "/"])
    assert ok(res), out(res)

    landed_with(emulator, dst.gid, name, data)
    assert named(emulator, src_task, name) == []
    assert node.gid not in {a["gid"] for a in emulator.state()["attachments"]}
    assert counts(emulator) == (1, 1)
    assert not (mount.path / rel).exists()
    assert (mount.path / dst_rel / name).read_bytes() == data


def test_mv_onto_an_existing_name_replaces_it(mount, emulator, world, tmp_path):
    (rel, task), = task_for_writes(world)
    a_data, b_data = random_bytes(3000, "a"), random_bytes(4000, "b")
    write_local(tmp_path / "src" / "a.bin", a_data)
    write_local(tmp_path / "src" / "b.bin", b_data)
    res = run(["cp", str(tmp_path / "src" / "a.bin"), str(tmp_path / "src" / "b.bin"),
               str(mount.path / rel) + "/"])
    assert ok(res), out(res)
    old_a = landed_with(emulator, task.gid, "a.bin", a_data)
    old_b = landed_with(emulator, task.gid, "b.bin", b_data)
    emulator.reset_stats()

    res = run(["mv", str(mount.path / rel / "a.bin"), str(mount.path / rel / "b.bin")])
    assert ok(res), out(res)

    new_b = landed_with(emulator, task.gid, "b.bin", a_data)
    assert named(emulator, task.gid, "a.bin") == []
    gids = {a["gid"] for a in emulator.state()["attachments"]}
    assert old_a["gid"] not in gids and old_b["gid"] not in gids and new_b["gid"] in gids
    assert counts(emulator) == (1, 2)  # one upload; the moved file's and the replaced file's deletes
    assert sorted(os.listdir(mount.path / rel)).count("b.bin") == 1
    assert not (mount.path / rel / "a.bin").exists()
    assert (mount.path / rel / "b.bin").read_bytes() == a_data


# ---- limits and failures ---------------------------------------------------------------


def test_write_past_100_mib_fails_with_efbig_and_uploads_nothing(mount, emulator, world):
    mount.allow(r"write failed with errno 27 \(File too large\)")
    (rel, task), = task_for_writes(world)
    path = mount.path / rel / "too-big.bin"
    chunk = random_bytes(1024 * 1024, "chunk")
    emulator.reset_stats()

    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        written = 0
        while written < MAX_FILE_BYTES:
            written += os.write(fd, chunk[:MAX_FILE_BYTES - written])
        assert written == MAX_FILE_BYTES
        with pytest.raises(OSError) as e:
            os.write(fd, b"x")  # byte 104857601
        assert e.value.errno == errno.EFBIG, e.value
    finally:
        try:
            os.close(fd)
        except OSError:
            pass  # whether close reports anything is not what this test checks

    assert named(emulator, task.gid, "too-big.bin") == []
    assert counts(emulator)[0] == 0
    # The upload that began while the file was written (-o stream_upload) is
    # abandoned with its body unfinished: at most that one request, nothing created.
    assert requests(emulator, "POST /attachments") <= 1


def test_failed_upload_is_reported_kept_and_retried_once(mount, emulator, world, tmp_path):
    mount.allow(UPLOAD_FAILURE_LINES)
    (rel, task), = task_for_writes(world)
    data = random_bytes(10_000, "retry")
    src = write_local(tmp_path / "src" / "retry.bin", data)
    emulator.reset_stats()
    emulator.set_faults("500@POST /attachments")

    res = run(["cp", str(src), str(mount.path / rel) + "/"])
    assert not ok(res), f"cp succeeded although every upload fails: {out(res)}"
    assert named(emulator, task.gid, "retry.bin") == []
    # The staged file stays visible with its content.
    assert (mount.path / rel / "retry.bin").read_bytes() == data
    assert "retry.bin" in os.listdir(mount.path / rel)

    emulator.set_faults("")
    wait_until(lambda: named(emulator, task.gid, "retry.bin"),
               "the failed upload landed by itself after faults were cleared")
    assert mount.unmount() == 0  # no daemon left that could upload again
    landed_with(emulator, task.gid, "retry.bin", data)
    assert emulator.stats()["uploads"] == 1


# ---- directories -----------------------------------------------------------------------


def test_mkdir_makes_tasks_and_subtasks(mount, emulator, world, tmp_path):
    prel, project = project_for_writes(world)
    emulator.reset_stats()

    os.mkdir(mount.path / prel / "New task")
    os.mkdir(mount.path / prel / "New task" / "New subtask")
    data = random_bytes(1234, "mkdir")
    src = write_local(tmp_path / "src" / "inside.bin", data)
    res = run(["cp", str(src), str(mount.path / prel / "New task" / "New subtask") + "/"])
    assert ok(res), out(res)

    w = World(emulator.state())
    tasks = [t for t in w.tasks_of_project(project.gid) if t["name"] == "New task"]
    assert len(tasks) == 1, [t["name"] for t in w.tasks_of_project(project.gid)]
    subs = [t for t in w.subtasks_of(tasks[0]["gid"]) if t["name"] == "New subtask"]
    assert len(subs) == 1, [t["name"] for t in w.subtasks_of(tasks[0]["gid"])]
    landed_with(emulator, subs[0]["gid"], "inside.bin", data)
    assert requests(emulator, "POST /tasks") == 1
    assert requests(emulator, "POST /tasks/{gid}/subtasks") == 1
    assert stat.S_ISDIR(os.stat(mount.path / prel / "New task").st_mode)
    assert os.listdir(mount.path / prel / "New task" / "New subtask") == ["inside.bin"]


def test_refused_directory_and_special_file_operations(mount, emulator, world):
    (rel, task), = task_for_writes(world)
    prel = rel.rsplit("/", 1)[0]
    workspace = prel.split("/")[0]
    tdir = mount.path / rel
    (tdir / "plain.txt").write_bytes(b"x\n")
    tasks_before = len(emulator.state()["tasks"])
    emulator.reset_stats()

    def refused(fn, *args, expect=errno.EPERM):
        with pytest.raises(OSError) as e:
            fn(*args)
        assert e.value.errno == expect, f"{fn.__name__}{args}: {e.value}"

    refused(os.rmdir, tdir)
    refused(os.rename, tdir, mount.path / prel / "Renamed task")
    refused(os.symlink, "plain.txt", tdir / "link")
    refused(os.link, tdir / "plain.txt", tdir / "hardlink")
    refused(os.mknod, tdir / "dev", stat.S_IFCHR | 0o600, os.makedev(1, 3))
    refused(os.mkdir, mount.path / "New workspace")
    refused(os.mkdir, mount.path / workspace / "New project")

    assert tdir.is_dir()
    assert len(emulator.state()["tasks"]) == tasks_before
    assert counts(emulator) == (0, 0)


# ---- metadata overlay, statfs, read-only -------------------------------------------------


def test_chmod_chown_utimens_kept_across_remount(mount, make_mount, emulator, world):
    (rel, task), = task_for_writes(world)
    path = mount.path / rel / "meta.txt"
    path.write_bytes(b"metadata\n")
    landed_with(emulator, task.gid, "meta.txt", b"metadata\n")
    emulator.reset_stats()

    os.chmod(path, 0o600)
    os.chown(path, 1234, 5678)
    times_ns = (1_600_000_000_123_456_789, 1_500_000_000_987_654_321)
    os.utime(path, ns=times_ns)

    def check(p):
        st = os.stat(p)
        assert stat.S_IMODE(st.st_mode) == 0o600
        assert (st.st_uid, st.st_gid) == (1234, 5678)
        assert (st.st_atime_ns, st.st_mtime_ns) == times_ns

    check(path)
    assert counts(emulator) == (0, 0)  # Asana never sees it

    assert mount.unmount() == 0
    again = remount(make_mount, mount)
    check(again.path / rel / "meta.txt")
    assert again.unmount() == 0


def test_statfs(mount):
    st = os.statvfs(mount.path)
    assert st.f_namemax == 255
    assert st.f_bsize > 0 and st.f_blocks > 0 and st.f_bavail > 0
    res = run(["df", str(mount.path)])
    assert ok(res), out(res)


@pytest.mark.mount_options("ro")
def test_read_only_mount_refuses_every_change(mount, emulator, world, tmp_path):
    (rel, task), = task_for_writes(world)
    prel = rel.rsplit("/", 1)[0]
    frel, fnode = seeded_files(world)[0]
    src = write_local(tmp_path / "src" / "ro.txt", b"nope\n")
    emulator.reset_stats()

    res = run(["cp", str(src), str(mount.path / rel) + "/"])
    assert not ok(res) and "Read-only file system" in out(res), out(res)
    res = run(["mkdir", str(mount.path / prel / "ro task")])
    assert not ok(res) and "Read-only file system" in out(res), out(res)
    res = run(["rm", "-f", str(mount.path / frel)])
    assert not ok(res) and "Read-only file system" in out(res), out(res)
    for fn, args in [(os.mkdir, (mount.path / prel / "ro task",)),
                     (os.unlink, (mount.path / frel,)),
                     (os.rename, (mount.path / frel, mount.path / (frel + ".moved"))),
                     (os.chmod, (mount.path / frel, 0o600))]:
        with pytest.raises(OSError) as e:
            fn(*args)
        assert e.value.errno == errno.EROFS, f"{fn.__name__}{args}: {e.value}"
    with pytest.raises(OSError) as e:
        os.open(mount.path / rel / "ro.txt", os.O_WRONLY | os.O_CREAT, 0o644)
    assert e.value.errno == errno.EROFS

    assert (mount.path / frel).read_bytes() == emulator.content(fnode.gid)
    assert counts(emulator) == (0, 0)
    assert requests(emulator, "POST /tasks") == 0
