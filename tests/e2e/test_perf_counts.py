"""Request economy of reads and listings: deterministic request and byte counts.

Every number comes from the emulator's `/_control/stats` deltas, never from a
clock. Blob byte counts are read after the daemon has unmounted, so read-ahead
still in flight when the reading tool returned is counted too.

Worlds are written as FILE.json seeds: `@pytest.mark.emulator(seed=<dict>)`
makes this module's `emulator` fixture (which overrides conftest's) write the
dict to the test's tmp dir first; a string seed passes through unchanged.
"""

import hashlib
import json
import os

import pytest

from asana_tree import World, pages
from conftest import run

MIB = 1024 * 1024
BIG_SIZE = 104857600  # 100 MiB: the largest upload the emulator (and Asana) accepts
SEQ_SIZE = 20_000_000  # "20 MB", deliberately not a multiple of the 1 MiB chunk
WIDE_ATTACHMENTS = 150  # two pages of attachments at limit=100
WIDE_SUBTASKS = 120  # two pages of subtasks

LISTING_ROUTES = {"GET /workspaces", "GET /workspaces/{gid}/projects", "GET /projects/{gid}/tasks",
                  "GET /attachments", "GET /tasks/{gid}/subtasks"}


def one_file_world(name, size):
    return {"workspaces": [{"name": "W", "projects": [{"name": "P", "tasks": [
        {"name": "T", "attachments": [{"name": name, "size": size},
                                      {"name": "small.txt", "content": "neighbour\n"}]}]}]}]}


BIG_WORLD = one_file_world("big.bin", BIG_SIZE)
SEQ_WORLD = one_file_world("seq.bin", SEQ_SIZE)
WIDE_WORLD = {"workspaces": [{"name": "W", "projects": [{"name": "P", "tasks": [
    {"name": "Wide",
     "attachments": [{"name": f"f{i:03d}.txt", "content": f"file {i}\n"}
                     for i in range(WIDE_ATTACHMENTS)],
     "subtasks": [{"name": f"S{i:03d}"} for i in range(WIDE_SUBTASKS)]},
    {"name": "Other", "attachments": [{"name": "x.txt", "content": "x\n"}]}]}]}]}


@pytest.fixture
def emulator(request, make_emulator, tmp_path):
    """Like conftest's, but a dict seed is written to FILE.json first."""
    marker = request.node.get_closest_marker("emulator")
    kwargs = dict(marker.kwargs) if marker else {}
    seed = kwargs.get("seed", "small")
    if isinstance(seed, dict):
        path = tmp_path / "seed.json"
        path.write_text(json.dumps(seed))
        kwargs["seed"] = str(path)
    return make_emulator(**kwargs)


def api_requests(stats):
    """The non-zero per-route counts of API requests (the blob route is not an API route)."""
    return {k: v for k, v in stats["requests"].items() if v and "/_blobs" not in k}


def the_file(emulator, name):
    """(path relative to the mount, attachment record) of the attachment called `name`."""
    world = World(emulator.state())
    rel, node = next((rel, n) for rel, n in world.expected_tree().items()
                     if n.kind == "file" and rel.rsplit("/", 1)[1] == name)
    return rel, node


def look_up(mount, rel):
    """Looks up every component of `rel` (lists the parents), fetching no content."""
    st = os.stat(mount.path / rel)
    return st


def sha256_tool(path):
    res = run(["sha256sum", "--", str(path)], timeout=300)
    assert res.returncode == 0, res.stderr.decode(errors="replace")
    return res.stdout.decode().split()[0]


@pytest.mark.emulator(seed=BIG_WORLD)
def test_head_of_a_cold_100mb_file_fetches_little(make_mount, emulator):
    rel, node = the_file(emulator, "big.bin")
    mnt = make_mount()
    assert look_up(mnt, rel).st_size == BIG_SIZE
    emulator.reset_stats()

    res = run(["head", "-c", "4096", str(mnt.path / rel)])
    assert res.returncode == 0, res.stderr.decode(errors="replace")
    api_after_head = api_requests(emulator.stats())
    assert mnt.unmount() == 0

    stats = emulator.stats()
    assert res.stdout == emulator.content(node.gid)[:4096]
    assert stats["total_api_requests"] <= 2, api_after_head
    assert stats["blob_bytes"] <= 8 * MIB, f"blob_bytes={stats['blob_bytes']}"
    assert stats["blob_bytes"] >= 4096
    assert stats["blob_auth_headers"] == 0


@pytest.mark.emulator(seed=BIG_WORLD)
def test_tail_of_a_cold_100mb_file_fetches_only_its_range(make_mount, emulator):
    rel, node = the_file(emulator, "big.bin")
    mnt = make_mount()
    look_up(mnt, rel)
    emulator.reset_stats()

    with open(mnt.path / rel, "rb", buffering=0) as f:
        f.seek(BIG_SIZE - 4096)
        got = f.read(4096)
    assert mnt.unmount() == 0

    stats = emulator.stats()
    assert got == emulator.content(node.gid)[-4096:]
    assert 4096 <= stats["blob_bytes"] <= 2 * MIB, f"blob_bytes={stats['blob_bytes']}"
    assert api_requests(stats) == {"GET /attachments/{gid}": 1}


@pytest.mark.emulator(seed=BIG_WORLD)
def test_reread_after_remount_is_served_from_the_cache(make_mount, emulator):
    """The second sha256sum costs no request of any kind.

    Stats are reset once the remount is up (after its GET /users/me); the
    lookups of the parents are measured separately: only listing requests.
    """
    rel, node = the_file(emulator, "big.bin")
    want = hashlib.sha256(emulator.content(node.gid)).hexdigest()

    first = make_mount(name="mnt")
    emulator.reset_stats()
    assert sha256_tool(first.path / rel) == want
    assert first.unmount() == 0
    assert emulator.stats()["blob_bytes"] == BIG_SIZE

    second = make_mount(name="mnt")  # same name: same cache_dir
    assert second.cache_dir == first.cache_dir
    emulator.reset_stats()
    look_up(second, rel)
    lookups = emulator.stats()
    assert set(api_requests(lookups)) <= LISTING_ROUTES, api_requests(lookups)
    assert lookups["blob_requests"] == 0

    emulator.reset_stats()
    assert sha256_tool(second.path / rel) == want
    assert second.unmount() == 0
    stats = emulator.stats()
    assert api_requests(stats) == {}
    assert stats["total_api_requests"] == 0
    assert stats["blob_requests"] == 0 and stats["blob_bytes"] == 0


@pytest.mark.emulator(seed=WIDE_WORLD)
def test_ls_l_of_a_two_page_task_dir_makes_only_its_listing_requests(mount, emulator):
    world = World(emulator.state())
    task = next(t for t in world.tasks if t["name"] == "Wide")
    assert len(world.attachments_of(task["gid"])) == WIDE_ATTACHMENTS
    assert len(world.subtasks_of(task["gid"])) == WIDE_SUBTASKS
    tree = world.expected_tree()
    rel = next(r for r, n in tree.items() if n.gid == task["gid"])
    os.listdir(mount.path)
    os.listdir(mount.path / "W")
    os.listdir(mount.path / "W" / "P")
    emulator.reset_stats()

    res = run(["ls", "-l", str(mount.path / rel)])
    assert res.returncode == 0, res.stderr.decode(errors="replace")

    stats = emulator.stats()
    expected = {"GET /attachments": 2, "GET /tasks/{gid}/subtasks": 2}
    assert api_requests(stats) == expected
    assert stats["total_api_requests"] == 4
    assert stats["blob_requests"] == 0, "ls -l downloaded content"
    listed = [line for line in res.stdout.decode().splitlines() if not line.startswith("total")]
    assert len(listed) == WIDE_ATTACHMENTS + WIDE_SUBTASKS


def listing_floor(world):
    """One request per list page of every directory, 100 items a page."""
    floor = 1  # GET /workspaces
    for ws in world.workspaces:
        projects = world.projects_of(ws["gid"])
        floor += pages(len(projects))
        for project in projects:
            # Its tasks and its Key resources (GET /attachments?parent=<project>).
            floor += pages(len(world.tasks_of_project(project["gid"])))
            floor += pages(len(world.attachments_of(project["gid"])))
    task_gids = {t["gid"] for t in world.tasks}  # every task is a directory exactly once here
    for gid in task_gids:
        floor += pages(len(world.attachments_of(gid))) + pages(len(world.subtasks_of(gid)))
    return floor


@pytest.mark.emulator(seed="medium")
def test_find_over_medium_costs_exactly_the_listing_floor(mount, emulator):
    world = World(emulator.state())
    # Two files per task and one Key resource per project.
    assert len(world.tasks) == 1000 and len(world.attachments) == 2000 + 20
    floor = listing_floor(world)
    assert floor == 1 + 1 + 20 + 20 + 1000 + 1000

    res = run(["find", str(mount.path)], timeout=300)
    assert res.returncode == 0, res.stderr.decode(errors="replace")
    assert len(res.stdout.splitlines()) == 1 + len(world.expected_tree())

    stats = emulator.stats()
    by_route = api_requests(stats)
    assert by_route.pop("GET /users/me") == 1
    assert sum(by_route.values()) <= 1.02 * floor, by_route
    assert by_route == {"GET /workspaces": 1, "GET /workspaces/{gid}/projects": 1,
                        "GET /projects/{gid}/tasks": 20, "GET /attachments": 20 + 1000,
                        "GET /tasks/{gid}/subtasks": 1000}
    assert stats["total_api_requests"] == floor + 1
    assert stats["blob_requests"] == 0


@pytest.mark.emulator(seed=SEQ_WORLD)
def test_sequential_read_of_a_cold_20mb_file_fetches_each_byte_once(make_mount, emulator):
    rel, node = the_file(emulator, "seq.bin")
    want = hashlib.sha256(emulator.content(node.gid)).hexdigest()
    mnt = make_mount()
    look_up(mnt, rel)
    emulator.reset_stats()

    assert sha256_tool(mnt.path / rel) == want
    assert mnt.unmount() == 0

    stats = emulator.stats()
    assert stats["blob_bytes"] == SEQ_SIZE
    assert api_requests(stats) == {"GET /attachments/{gid}": 1}
    assert stats["blob_auth_headers"] == 0
