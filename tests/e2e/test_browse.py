"""Browsing: the mounted tree, names and attributes against an independent model of the world."""

import os
import stat

from asana_tree import MAX_NAME_BYTES, time_ns
from conftest import run


def find_entries(root):
    """{relative path: 'd' or 'f' ...} as the real `find` sees the mount."""
    res = run(["find", str(root), "-mindepth", "1", "-printf", r"%y %P\0"])
    assert res.returncode == 0, f"find failed: {res.stderr.decode(errors='replace')}"
    entries = {}
    for item in res.stdout.split(b"\0"):
        if item:
            kind, path = item.decode("utf-8", errors="surrogateescape").split(" ", 1)
            entries[path] = kind
    return entries


def test_find_lists_exactly_the_expected_tree(mount, world):
    expected = world.expected_tree()
    actual = find_entries(mount.path)

    missing = sorted(set(expected) - set(actual))
    unexpected = sorted(set(actual) - set(expected))
    assert not missing and not unexpected, (
        f"missing from the mount: {missing[:20]}\nnot expected: {unexpected[:20]}")
    wrong_type = {p: k for p, k in actual.items()
                  if k != ("d" if expected[p].kind == "dir" else "f")}
    assert not wrong_type, f"entries of the wrong type: {wrong_type}"


def test_small_seed_exercises_every_naming_rule(world):
    """Guards the test above: the seed must contain the hostile names the rules are about."""
    names = [p.rsplit("/", 1)[-1] for p in world.expected_tree()]
    assert len(world.workspaces) >= 2
    assert any("\u2215" in n for n in names), "no name with '/'"
    assert any("\ufffd" in n for n in names), "no name with a control character"
    assert "\uff0e" in names and "\uff0e\uff0e" in names, "no '.' or '..' name"
    assert "(no name)" in names, "no empty name"
    assert any(n.endswith(".url") for n in names), "no attachment hosted outside Asana"
    assert any(" [" in n and "." in n.rsplit("]", 1)[-1] for n in names), "no file collision"
    assert any(n.endswith("]") for n in names), "no directory collision"
    assert any(len(n.encode()) == MAX_NAME_BYTES for n in names) or any(
        len(n.encode()) > 240 for n in names), "no over-long name"


def test_stat_sizes_and_mtimes_match_the_world(mount, world):
    expected = world.expected_tree()
    mismatches = []
    for rel, node in sorted(expected.items()):
        st = os.stat(mount.path / rel)
        if node.kind == "file":
            if not stat.S_ISREG(st.st_mode):
                mismatches.append(f"{rel}: not a regular file")
                continue
            if st.st_size != node.size:
                mismatches.append(f"{rel}: size {st.st_size} != {node.size}")
        elif not stat.S_ISDIR(st.st_mode):
            mismatches.append(f"{rel}: not a directory")
            continue
        if node.mtime:
            want_ns = time_ns(node.mtime)
            # Whole seconds or the exact milliseconds of the timestamp are both faithful.
            if st.st_mtime_ns not in (want_ns, want_ns // 10**9 * 10**9):
                mismatches.append(f"{rel}: mtime_ns {st.st_mtime_ns} != {want_ns} ({node.mtime})")
        else:
            # Workspace and project directories carry the mount time.
            if not (int(mount.started_at) - 1 <= st.st_mtime <= mount.mounted_at + 1):
                mismatches.append(f"{rel}: mtime {st.st_mtime} is not the mount time")
    assert not mismatches, "\n".join(mismatches[:30])


def test_ls_l_sizes_match_the_world(mount, world):
    """`ls -l` (readdir + per-entry stat through the kernel) shows the listing's sizes."""
    expected = world.expected_tree()
    task_dirs = sorted({rel.rsplit("/", 1)[0] for rel, n in expected.items() if n.kind == "file"})
    assert task_dirs
    for rel_dir in task_dirs:
        res = run(["ls", "-lA", "-N", "--show-control-chars", "--time-style=+%s",
                   str(mount.path / rel_dir)], env={**os.environ, "LC_ALL": "C.UTF-8"})
        assert res.returncode == 0, res.stderr
        sizes = {}
        for line in res.stdout.decode("utf-8", errors="surrogateescape").splitlines()[1:]:
            parts = line.split(None, 6)
            sizes[parts[6]] = (parts[0][0], int(parts[4]))
        for rel, node in expected.items():
            if rel.rsplit("/", 1)[0] == rel_dir and node.kind == "file":
                name = rel.rsplit("/", 1)[1]
                assert sizes.get(name) == ("-", node.size), f"ls -l {rel_dir}: {name!r}"


def test_files_are_read_only_links_for_foreign_hosts(mount, world):
    mount.allow(r"WARNING: open failed with errno 13 .*outside Asana")  # the refusal we provoke
    links = [rel for rel, n in world.expected_tree().items() if n.kind_detail == "link"]
    assert links
    for rel in links:
        st = os.stat(mount.path / rel)
        assert st.st_mode & 0o222 == 0, f"{rel} is writable: {oct(st.st_mode)}"
        try:
            with open(mount.path / rel, "r+b"):
                pass
        except OSError:
            continue
        raise AssertionError(f"{rel} opened for writing")
