"""Change detection through Asana's Events API (issue 6).

With the listing TTL set far beyond the test (an hour), only events can make a
change made in Asana show up: an attachment added or deleted through the
emulator's control interface must appear/disappear within the poll interval
plus 2 s. An expired sync token (412) leads to a re-list; with nothing in use,
no event polling happens at all (request counts from the emulator's stats).
"""

import os
import time

import pytest

from asana_tree import World
from conftest import run

POLL_S = 1
SETTLE_S = POLL_S + 2
OPTIONS = (f"poll_interval={POLL_S}", "dir_ttl=3600")


def small_task(emulator):
    """(path of a task directory relative to the mount, its gid) of a task with attachments."""
    world = World(emulator.state())
    tree = world.expected_tree()
    for rel, node in sorted(tree.items()):
        if node.kind == "dir" and node.gid in {t["gid"] for t in world.tasks}:
            if world.attachments_of(node.gid):
                return rel, node.gid
    raise AssertionError("the small seed has a task with attachments")


def wait_until(predicate, deadline_s):
    """Polls `predicate` until it holds or `deadline_s` passed; returns its last value."""
    end = time.monotonic() + deadline_s
    while True:
        value = predicate()
        if value or time.monotonic() >= end:
            return value
        time.sleep(0.1)


def events_requests(emulator):
    return emulator.stats()["requests"].get("GET /events", 0)


@pytest.mark.mount_options(*OPTIONS)
def test_attachment_added_and_deleted_in_asana_shows_within_the_poll_interval(mount, emulator):
    rel, task_gid = small_task(emulator)
    task_dir = mount.path / rel
    before = set(os.listdir(task_dir))
    assert "from-asana.txt" not in before
    # Let the first poll establish the project's event stream (its 412 hands out the token).
    assert wait_until(lambda: events_requests(emulator) > 0, SETTLE_S)

    gid = emulator.add_object({"type": "attachment", "name": "from-asana.txt",
                               "parent": task_gid, "content": "made in Asana\n"})
    assert wait_until(lambda: "from-asana.txt" in os.listdir(task_dir), SETTLE_S), \
        f"not visible {SETTLE_S} s after it was added; listing: {sorted(os.listdir(task_dir))}"
    assert (task_dir / "from-asana.txt").read_text() == "made in Asana\n"
    assert set(os.listdir(task_dir)) == before | {"from-asana.txt"}

    emulator.delete_object(gid)
    assert wait_until(lambda: "from-asana.txt" not in os.listdir(task_dir), SETTLE_S), \
        f"still visible {SETTLE_S} s after it was deleted"
    assert not (task_dir / "from-asana.txt").exists()
    assert set(os.listdir(task_dir)) == before


@pytest.mark.mount_options(*OPTIONS)
def test_a_key_resource_added_and_deleted_in_asana_shows_in_the_project(mount, emulator):
    world = World(emulator.state())
    project = next(p for p in world.projects if p["name"] == "Design / Marketing")
    project_dir = mount.path / "Acme Corp" / "Design \u2215 Marketing"
    before = set(os.listdir(project_dir))
    assert "brand-guide.pdf" in before  # a Key resource of the seed
    assert wait_until(lambda: events_requests(emulator) > 0, SETTLE_S)

    gid = emulator.add_object({"type": "attachment", "name": "roadmap.txt",
                               "parent": project["gid"], "content": "Q1: ship\n"})
    assert wait_until(lambda: "roadmap.txt" in os.listdir(project_dir), SETTLE_S), \
        f"not visible {SETTLE_S} s after it was added; listing: {sorted(os.listdir(project_dir))}"
    assert (project_dir / "roadmap.txt").read_text() == "Q1: ship\n"
    assert set(os.listdir(project_dir)) == before | {"roadmap.txt"}

    emulator.delete_object(gid)
    assert wait_until(lambda: "roadmap.txt" not in os.listdir(project_dir), SETTLE_S), \
        f"still visible {SETTLE_S} s after it was deleted"
    assert set(os.listdir(project_dir)) == before


@pytest.mark.mount_options(*OPTIONS)
def test_an_expired_sync_token_leads_to_a_relist(mount, emulator):
    rel, _ = small_task(emulator)
    task_dir = mount.path / rel
    os.listdir(task_dir)
    assert wait_until(lambda: events_requests(emulator) > 0, SETTLE_S)

    # Within the TTL and with no event, listing again costs nothing.
    emulator.reset_stats()
    os.listdir(task_dir)
    assert emulator.stats()["requests"].get("GET /attachments", 0) == 0

    emulator.expire_sync_tokens()
    emulator.reset_stats()
    # The next poll gets 412 and marks what is cached under the project stale.
    assert wait_until(lambda: events_requests(emulator) > 0, SETTLE_S)
    time.sleep(0.5)  # let the poller finish handling that reply
    os.listdir(task_dir)
    stats = emulator.stats()["requests"]
    # The task's attachments, and the project's (its Key resources: looking the task up
    # re-lists the stale project directory too).
    assert stats.get("GET /attachments", 0) == 2, stats
    assert stats.get("GET /projects/{gid}/tasks", 0) == 1, stats
    assert stats.get("GET /tasks/{gid}/subtasks", 0) == 1, stats


@pytest.mark.mount_options(*OPTIONS)
def test_no_polling_when_nothing_is_in_use(mount, emulator):
    # Workspaces and the root are not projects: listing them subscribes to nothing.
    res = run(["ls", str(mount.path)])
    assert res.returncode == 0
    ws = next(iter(os.listdir(mount.path)))
    os.listdir(mount.path / ws)
    emulator.reset_stats()
    time.sleep(3 * POLL_S + 1)
    assert events_requests(emulator) == 0, emulator.stats()["requests"]


@pytest.mark.mount_options("poll_interval=0", "dir_ttl=3600")
def test_poll_interval_0_never_polls(mount, emulator):
    rel, _ = small_task(emulator)
    os.listdir(mount.path / rel)
    emulator.reset_stats()
    time.sleep(2)
    assert events_requests(emulator) == 0
