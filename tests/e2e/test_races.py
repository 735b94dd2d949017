"""Races between an upload landing and the next system call on the same file.

A file closed without a write (0 bytes: `cp` of an empty file, `touch`) is
uploaded in the background at its last release, so the next `open` or `unlink`
can arrive while it lands. Neither may see the staged file vanish under it:
the open must read what landed, the unlink must delete what landed.
"""

import subprocess

from asana_tree import World

ROUNDS = 60


def a_task_dir(mount, emulator):
    world = World(emulator.state())
    tree = world.expected_tree()
    task_gids = {t["gid"] for t in world.tasks}
    rel, node = next((r, n) for r, n in sorted(tree.items())
                     if n.kind == "dir" and n.gid in task_gids)
    return mount.path / rel, node.gid


def test_empty_files_read_and_removed_right_after_their_upload(mount, emulator, tmp_path):
    task_dir, task_gid = a_task_dir(mount, emulator)
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    failures = []
    for i in range(ROUNDS):
        target = task_dir / f"race{i:03d}.bin"
        subprocess.run(["cp", str(empty), str(target)], check=True)
        out = subprocess.run(["cp", str(target), str(tmp_path / "out")], capture_output=True)
        if out.returncode != 0:
            failures.append(("read", i, out.stderr.decode(errors="replace").strip()))
        rm = subprocess.run(["rm", str(target)], capture_output=True)
        if rm.returncode != 0:
            failures.append(("rm", i, rm.stderr.decode(errors="replace").strip()))
    assert failures == []
    mount.unmount()  # pending work settles (or stays journaled) before the state is read
    left = [a["name"] for a in emulator.state()["attachments"]
            if a["parent"] == task_gid and a["name"].startswith("race")]
    assert left == [], f"removed files still in Asana: {left}"


def test_empty_files_renamed_right_after_their_upload(mount, emulator, tmp_path):
    """`mv` right after `cp` of an empty file waits for the upload at release,
    then must move what landed: the old name may not stay behind in Asana."""
    task_dir, task_gid = a_task_dir(mount, emulator)
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    failures = []
    for i in range(ROUNDS):
        source, target = task_dir / f"mvrace{i:03d}.bin", task_dir / f"moved{i:03d}.bin"
        subprocess.run(["cp", str(empty), str(source)], check=True)
        mv = subprocess.run(["mv", str(source), str(target)], capture_output=True)
        if mv.returncode != 0:
            failures.append(("mv", i, mv.stderr.decode(errors="replace").strip()))
    assert failures == []
    mount.unmount()
    names = sorted(a["name"] for a in emulator.state()["attachments"]
                   if a["parent"] == task_gid and a["name"].startswith(("mvrace", "moved")))
    assert names == [f"moved{i:03d}.bin" for i in range(ROUNDS)]
