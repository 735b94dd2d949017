"""Request economy: listing a task directory costs exactly its listing requests."""

import os

import pytest

from asana_tree import pages
from conftest import run


def api_requests(stats):
    """The non-zero per-route counts of API requests (the blob route is not an API route)."""
    return {k: v for k, v in stats["requests"].items() if v and "/_blobs" not in k}


def task_dirs_by_shape(world):
    """(relative path, task node) for task directories, busiest first."""
    tree = world.expected_tree()
    dirs = [(rel, n) for rel, n in tree.items() if n.kind_detail == "task"]
    return sorted(dirs, key=lambda item: (-(len(world.attachments_of(item[1].gid)) +
                                            len(world.subtasks_of(item[1].gid))), item[0]))


@pytest.mark.parametrize("which", ["with_subtasks", "top_level_only"])
def test_ls_l_of_a_task_dir_makes_only_its_listing_requests(mount, emulator, world, which):
    candidates = task_dirs_by_shape(world)
    if which == "with_subtasks":
        rel, node = next((r, n) for r, n in candidates
                         if world.subtasks_of(n.gid) and world.attachments_of(n.gid))
    else:
        rel, node = next((r, n) for r, n in candidates
                         if r.count("/") == 2 and world.attachments_of(n.gid))
    task_path = mount.path / rel

    # Look up the parents (and list them) so that only the task's own listing is left to fetch.
    parent = mount.path
    for component in rel.split("/")[:-1]:
        os.listdir(parent)
        parent = parent / component
        os.stat(parent)
    os.listdir(parent)
    emulator.reset_stats()

    res = run(["ls", "-l", str(task_path)])
    assert res.returncode == 0, res.stderr.decode(errors="replace")

    stats = emulator.stats()
    expected = {
        "GET /attachments": pages(len(world.attachments_of(node.gid))),
        "GET /tasks/{gid}/subtasks": pages(len(world.subtasks_of(node.gid))),
    }
    assert api_requests(stats) == expected
    assert stats["total_api_requests"] == sum(expected.values())
    assert stats["blob_requests"] == 0, "ls -l downloaded content"


def test_second_ls_l_within_dir_ttl_makes_no_requests(mount, emulator, world):
    rel, _ = next((r, n) for r, n in task_dirs_by_shape(world) if world.attachments_of(n.gid))
    first = run(["ls", "-lR", str(mount.path / rel)])
    assert first.returncode == 0
    emulator.reset_stats()
    second = run(["ls", "-lR", str(mount.path / rel)])
    assert second.returncode == 0
    assert second.stdout == first.stdout
    assert api_requests(emulator.stats()) == {}


def test_listing_a_big_project_walks_every_page(mount, emulator, world):
    tree = world.expected_tree()
    projects = [(rel, n) for rel, n in tree.items() if n.kind_detail == "project"]
    rel, node = max(projects, key=lambda item: len(world.tasks_of_project(item[1].gid)))
    count = len(world.tasks_of_project(node.gid))
    assert count > 100, "the seed has no project that needs two pages"
    os.listdir(mount.path)
    os.listdir(mount.path / rel.split("/")[0])
    emulator.reset_stats()

    names = os.listdir(mount.path / rel)

    assert sorted(names) == sorted(r.rsplit("/", 1)[1] for r in tree
                                   if r.rsplit("/", 1)[0] == rel)
    # Its tasks, page by page, and its Key resources (GET /attachments?parent=<project>).
    assert api_requests(emulator.stats()) == {
        "GET /projects/{gid}/tasks": pages(count),
        "GET /attachments": pages(len(world.attachments_of(node.gid)))}
