"""Hostile names and hostile replies: a clear error or a safe name, never a crash or an escape.

Names come from FILE.json seeds (`../`, `/`, NUL, newlines, invalid UTF-8,
10 KB, names that collide after mapping) and from uploads (quotes, CR/LF, `;`:
the emulator must record exactly the name, and no injected multipart header).
Replies are damaged by emulator faults (malformed JSON, wrong types, huge
numbers, missing fields, a next_page loop, a download_url on another host).
After each, the daemon is alive and the mount usable.
"""

import errno
import json
import os

import pytest

from asana_tree import World
from conftest import run
from fault_helpers import (FAULT_LINES, check_exactly, data_file, errname, probe, task_by_name,
                           write_seed)
from write_helpers import wait_until

BAD_UTF8 = "@@BAD-UTF8@@"  # replaced by raw invalid bytes in the seed file

HOSTILE_NAMES = [
    "../../escape", "../", "..", ".", "", "a/b", "a\u2215b", "/etc/passwd", "nul\u0000byte",
    "new\nline", "cr\rlf\n", "tab\there", "bell\u0007", f"bad{BAD_UTF8}utf8", "N" * 10240,
    "N" * 10240 + ".txt", "dup.txt", "dup.txt", "dup [1].txt", "x\u0001.txt", "x\u0002.txt",
    "\u00e9t\u00e9.txt", "e\u0301te\u0301.txt",
]


def hostile_seed(path):
    tasks = [{"name": "Files", "attachments": [{"name": n, "content": f"content {i}\n"}
                                              for i, n in enumerate(HOSTILE_NAMES)]}]
    tasks += [{"name": n, "attachments": [{"name": "inside.txt", "content": f"task {i}\n"}]}
              for i, n in enumerate(HOSTILE_NAMES)]
    doc = {"base_time": "2024-01-02T03:04:05.678Z", "workspaces": [
        {"name": "W", "projects": [{"name": "P", "tasks": tasks}, {"name": "../P"},
                                   {"name": "..∕P"}]},
        {"name": "W"}, {"name": "../.."}]}
    raw = json.dumps(doc).encode().replace(BAD_UTF8.encode(), b"\xff\xfe\xc3")
    path.write_bytes(raw)
    return str(path)


def walk(root):
    """Every path under root (lstat-able), without following symlinks."""
    out = []
    for dirpath, dirs, files in os.walk(root):
        for n in dirs + files:
            out.append(os.path.join(dirpath, n))
    return out


def test_hostile_names_in_the_tree_are_safe(make_emulator, make_mount, tmp_path):
    emulator = make_emulator(seed=hostile_seed(tmp_path / "hostile.json"))
    mount = make_mount(emu=emulator)
    mount.allow(FAULT_LINES)
    root = os.fsencode(mount.path)
    seen_contents = []
    all_paths = walk(root)
    assert all_paths, "the mount shows nothing"
    for p in all_paths:
        name = os.path.basename(p)
        assert b"\0" not in name and b"/" not in name
        assert 0 < len(name) <= 255, f"name of {len(name)} bytes: {name[:60]!r}"
        assert name not in (b".", b".."), f"an entry named {name!r}"
        real = os.path.realpath(p)
        assert real.startswith(root + b"/"), f"{p!r} resolves outside the mount: {real!r}"
        st = os.lstat(p)
        if os.path.isfile(p):
            with open(p, "rb") as f:
                seen_contents.append(f.read())
        assert st.st_size >= 0
    for dirpath, dirs, files in os.walk(root):
        names = dirs + files
        assert len(names) == len(set(names)), f"duplicate names in {dirpath!r}"
    # Every seeded file is reachable under some name, exactly once, with its own bytes.
    want_files = sorted(f"content {i}\n".encode() for i in range(len(HOSTILE_NAMES)))
    want_tasks = sorted(f"task {i}\n".encode() for i in range(len(HOSTILE_NAMES)))
    assert sorted(c for c in seen_contents if c.startswith(b"content ")) == want_files
    assert sorted(c for c in seen_contents if c.startswith(b"task ")) == want_tasks
    # Nothing escaped the mount.
    assert not (tmp_path / "escape").exists() and not (mount.path.parent / "escape").exists()
    assert mount.proc.poll() is None


UPLOAD_NAMES = [
    'q"uote.txt', "semi;colon.txt", "both\";name=\"x.txt", "crlf\r\nContent-Type: text-evil.txt",
    "lf\ninjected.txt", "back\\slash.txt", "pct%41%2F.txt", "sp ace.txt", "caf\u00e9.txt",
    "'single'.txt",
]


def test_upload_names_reach_asana_exactly(make_emulator, make_mount, tmp_path):
    seed = write_seed(tmp_path / "up.json",
                      [{"name": "W", "projects": [{"name": "P", "tasks": [{"name": "Up"}]}]}])
    emulator = make_emulator(seed=seed)
    mount = make_mount(emu=emulator)
    mount.allow(FAULT_LINES)
    task = task_by_name(emulator, "Up")
    folder = mount.path / "W" / "P" / "Up"
    files = {}
    for i, name in enumerate(UPLOAD_NAMES):
        data = f"upload {i}\n".encode()
        ok, code, value = probe("write", os.path.join(folder, name),
                                data_file(tmp_path, f"n{i}", data))
        if ok:
            files[name] = data
        else:
            # Refusing a name is allowed, with a clear errno, but not for plain printable ones.
            assert code in (errno.EINVAL, errno.EPERM, errno.ENAMETOOLONG), \
                f"{name!r}: {errname(code)} {value}"
            assert any(c in name for c in "\r\n"), f"{name!r} refused: {errname(code)}"
    wait_until(lambda: {a["name"] for a in World(emulator.state()).attachments_of(task)} >=
               set(files), "the uploads in the emulator")
    assert mount.unmount() == 0
    # Exactly the names given, nothing split off into extra parts or extra attachments.
    check_exactly(emulator, task, files)
    assert emulator.stats()["uploads"] == len(files)
    for a in World(emulator.state()).attachments_of(task):
        assert a.get("content_type", "") in ("", None) or "evil" not in a.get("content_type", "")


# ---- damaged replies ---------------------------------------------------------------------

def reply_seed(path, tasks=8, many=0):
    ts = [{"name": f"T{i}", "attachments": [{"name": "f.txt", "content": f"file {i}\n"}]}
          for i in range(tasks)]
    projects = [{"name": "P", "tasks": ts}]
    if many:
        projects.append({"name": "Many", "tasks": [{"name": f"m{i:03d}"} for i in range(many)]})
    return write_seed(path, [{"name": "W", "projects": projects}])


@pytest.mark.parametrize("kind", ["badjson", "wrongtype", "hugenum", "nofields"])
def test_damaged_listing_replies(kind, make_emulator, make_mount, tmp_path):
    emulator = make_emulator(seed=reply_seed(tmp_path / "r.json"))
    mount = make_mount(emu=emulator)
    mount.allow(FAULT_LINES)
    proj = mount.path / "W" / "P"
    # Each damaged list: attachments of a task, tasks of a project, then a single attachment.
    emulator.set_faults(f"{kind}@GET /attachments")
    ok, code, value = probe("listdir", proj / "T0")
    if ok:  # a safe subset of the listing is fine: names must still be sane and readable
        for name in value:
            assert "/" not in name and name not in (".", "..")
    else:
        assert code == errno.EIO, f"ls gave {errname(code)} {value}"
    emulator.set_faults(f"{kind}@GET /projects/")
    ok, code, value = probe("listdir", mount.path / "W" / "P")
    if not ok:
        assert code == errno.EIO, f"ls of the project gave {errname(code)} {value}"
    emulator.set_faults("")
    assert mount.proc.poll() is None, "the daemon crashed"
    # Usable afterwards: another task lists and reads correctly.
    assert os.listdir(proj / "T1") == ["f.txt"]
    assert (proj / "T1" / "f.txt").read_bytes() == b"file 1\n"
    # Opening a file whose GET /attachments/{gid} is damaged fails cleanly (or reads right).
    os.listdir(proj / "T2")
    emulator.set_faults(f"{kind}@GET /attachments/")
    ok, code, value = probe("read", proj / "T2" / "f.txt")
    assert ok and value == len(b"file 2\n") or code == errno.EIO, f"cat gave {errname(code)} {value}"
    emulator.set_faults("")
    assert (proj / "T3" / "f.txt").read_bytes() == b"file 3\n"
    assert mount.proc.poll() is None


def test_next_page_loop_is_an_error_not_a_hang(make_emulator, make_mount, tmp_path):
    emulator = make_emulator(seed=reply_seed(tmp_path / "loop.json", tasks=1, many=130))
    mount = make_mount(emu=emulator)
    mount.allow(FAULT_LINES)
    emulator.set_faults("pageloop@GET /projects/")
    emulator.reset_stats()
    ok, code, value = probe("listdir", mount.path / "W" / "Many")
    assert not ok and code == errno.EIO, f"ls of a looping list gave {errname(code)} {value}"
    pages = emulator.stats()["requests"].get("GET /projects/{gid}/tasks", 0)
    assert pages <= 20, f"{pages} page requests for a loop"
    emulator.set_faults("")
    assert len(os.listdir(mount.path / "W" / "Many")) == 130
    assert mount.proc.poll() is None


def test_download_url_on_another_host_is_not_fetched(make_emulator, make_mount, tmp_path):
    emulator = make_emulator(seed=reply_seed(tmp_path / "url.json", tasks=2))
    mount = make_mount(emu=emulator)
    mount.allow(FAULT_LINES)
    folder = mount.path / "W" / "P" / "T0"
    os.listdir(folder)
    emulator.set_faults("foreignurl@GET /attachments/")
    emulator.reset_stats()
    ok, code, value = probe("read", folder / "f.txt")
    # http:// to a host that is not loopback is refused before any connection.
    assert not ok and code == errno.EIO, f"cat gave {errname(code)} {value}"
    assert emulator.stats()["blob_requests"] == 0
    assert "203.0.113.7" in mount.stderr_text() or "refus" in mount.stderr_text()
    emulator.set_faults("")
    assert (folder / "f.txt").read_bytes() == b"file 0\n"
    assert mount.proc.poll() is None


def test_damaged_reply_at_startup_is_a_clear_error(make_emulator, asanafs_bin, tmp_path):
    from conftest import Mount
    emulator = make_emulator(seed=reply_seed(tmp_path / "s.json", tasks=1))
    for kind in ("badjson", "wrongtype", "nofields"):
        emulator.set_faults(f"{kind}@GET /users/me")
        mnt = Mount(asanafs_bin, tmp_path, emulator, name=f"start-{kind}")
        res = run(mnt.command(), timeout=60)
        err = res.stderr.decode(errors="replace")
        assert res.returncode not in (0, None) and res.returncode < 128, \
            f"{kind}: exit {res.returncode}\n{err}"
        assert err.strip().startswith("asanafs:"), f"{kind}: unclear error: {err!r}"
    emulator.set_faults("")
