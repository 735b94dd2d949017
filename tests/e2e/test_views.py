"""Views (issue 6): a project's Key resources as files, and `-o sections`.

A project directory shows the project's own attachments (GET /attachments?parent=<project>)
next to its task directories, named together with them; `cp` into a project directory makes
a Key resource and `rm` deletes it. With `-o sections`, a project directory holds one
directory per section (GET /projects/{gid}/sections), each holding that section's tasks
(GET /sections/{gid}/tasks). Expectations come from the emulator's state through the
independent model in asana_tree.py; request counts from the emulator's statistics.
"""

import hashlib
import os
import stat
import time

import pytest

from asana_tree import World, pages
from conftest import run

DESIGN = "Design \u2215 Marketing"  # the small seed's project with sections and Key resources


def find_entries(root):
    """{path relative to root: 'd' or 'f'} as `find` sees it."""
    res = run(["find", str(root), "-mindepth", "1", "-printf", r"%y %P\0"], timeout=300)
    assert res.returncode == 0, res.stderr.decode(errors="replace")
    out = {}
    for item in res.stdout.split(b"\0"):
        if item:
            kind, path = item.decode("utf-8", errors="surrogateescape").split(" ", 1)
            out[path] = kind
    return out


def api_requests(stats):
    return {k: v for k, v in stats["requests"].items() if v and "/_blobs" not in k}


def project_of(world, name):
    return next(p for p in world.projects if p["name"] == name)


def key_resources(world, tree, project_rel):
    """{name: Node} of the files directly in a project directory of the expected tree."""
    return {rel.rsplit("/", 1)[1]: node for rel, node in tree.items()
            if rel.rsplit("/", 1)[0] == project_rel and node.kind == "file"}


def test_key_resources_are_listed_with_their_sizes_and_read_byte_exact(mount, emulator):
    world = World(emulator.state())
    tree = world.expected_tree()
    project_rel = f"Acme Corp/{DESIGN}"
    files = key_resources(world, tree, project_rel)
    # The seed gives this project a file, a Google Drive link and a file named like a task.
    assert {"brand-guide.pdf", "Moodboard.url"} <= set(files)
    clash = [n for n in files if n.startswith("Logo refresh [")]
    assert len(clash) == 1, f"the Key resource named like a task gets the suffix: {sorted(files)}"
    assert (mount.path / project_rel / "Logo refresh").is_dir()

    res = run(["ls", "-l", "--time-style=+%s", str(mount.path / project_rel)])
    assert res.returncode == 0, res.stderr.decode(errors="replace")
    for name, node in files.items():
        st = os.stat(mount.path / project_rel / name)
        assert stat.S_ISREG(st.st_mode), name
        assert st.st_size == node.size, (name, st.st_size, node.size)
        assert name in res.stdout.decode(), f"ls -l does not show {name}"

    for name, node in files.items():
        path = mount.path / project_rel / name
        if node.kind_detail == "link":
            assert path.read_bytes() == node.content
            continue
        res = run(["sha256sum", "--", str(path)])
        assert res.returncode == 0, res.stderr.decode(errors="replace")
        want = hashlib.sha256(emulator.content(node.gid)).hexdigest()
        assert res.stdout.decode().split()[0] == want == node.record["sha256"], name


def test_cp_into_a_project_makes_a_key_resource_and_rm_deletes_it(mount, emulator, tmp_path):
    world = World(emulator.state())
    project = project_of(world, "Design / Marketing")
    project_dir = mount.path / "Acme Corp" / DESIGN
    data = os.urandom(70_000)
    local = tmp_path / "minutes.bin"
    local.write_bytes(data)
    os.listdir(project_dir)
    emulator.reset_stats()

    res = run(["cp", str(local), str(project_dir / "minutes.bin")])
    assert res.returncode == 0, res.stderr.decode(errors="replace")
    stats = emulator.stats()
    assert stats["requests"].get("POST /attachments") == 1, api_requests(stats)
    landed = [a for a in emulator.state()["attachments"] if a["name"] == "minutes.bin"]
    assert len(landed) == 1
    assert landed[0]["parent"] == project["gid"], "uploaded with the project as parent"
    assert landed[0]["sha256"] == hashlib.sha256(data).hexdigest()
    assert landed[0]["size"] == len(data)
    assert (project_dir / "minutes.bin").stat().st_size == len(data)
    res = run(["sha256sum", "--", str(project_dir / "minutes.bin")])
    assert res.stdout.decode().split()[0] == hashlib.sha256(data).hexdigest()

    emulator.reset_stats()
    res = run(["rm", str(project_dir / "minutes.bin")])
    assert res.returncode == 0, res.stderr.decode(errors="replace")
    assert emulator.stats()["requests"].get("DELETE /attachments/{gid}") == 1
    assert not [a for a in emulator.state()["attachments"] if a["name"] == "minutes.bin"]
    assert "minutes.bin" not in os.listdir(project_dir)

    # A directory is still a task: mkdir in a project makes one (no Key resource involved).
    res = run(["mkdir", str(project_dir / "From the mount")])
    assert res.returncode == 0, res.stderr.decode(errors="replace")
    assert any(t["name"] == "From the mount" and project["gid"] in t["projects"]
               for t in emulator.state()["tasks"])


@pytest.mark.mount_options("sections")
def test_sections_tree_matches_the_emulators_sections(mount, emulator):
    world = World(emulator.state())
    expected = world.expected_tree(sections=True)
    actual = find_entries(mount.path)
    missing = sorted(set(expected) - set(actual))
    unexpected = sorted(set(actual) - set(expected))
    assert not missing and not unexpected, f"missing: {missing[:20]}\nunexpected: {unexpected[:20]}"
    assert all(actual[p] == ("d" if n.kind == "dir" else "f") for p, n in expected.items())

    # The seed's sections, by hand: the video task was moved to "Doing / now", the others
    # stayed in the first section, "Done" is empty; Key resources stay at the project level.
    project = mount.path / "Acme Corp" / DESIGN
    entries = set(os.listdir(project))
    assert {"Backlog", "Doing \u2215 now", "Done", "brand-guide.pdf", "Moodboard.url"} <= entries
    assert "Logo refresh" in os.listdir(project / "Backlog")
    assert os.listdir(project / "Doing \u2215 now") == ["Launch video"]
    assert os.listdir(project / "Done") == []
    # A project whose tasks were never put in a section shows Asana's default one.
    assert sorted(os.listdir(mount.path / "Personal" / "Home")) == ["Untitled section",
                                                                   "house-rules.txt"]
    # Inside a task nothing changes: reads are byte-exact, writes land on the task.
    video = project / "Doing \u2215 now" / "Launch video"
    node = expected[f"Acme Corp/{DESIGN}/Doing \u2215 now/Launch video/launch.mp4"]
    res = run(["sha256sum", "--", str(video / "launch.mp4")])
    assert res.stdout.decode().split()[0] == node.record["sha256"]
    (video / "cut.txt").write_bytes(b"final cut\n")
    landed = [a for a in emulator.state()["attachments"] if a["name"] == "cut.txt"]
    assert [a["parent"] for a in landed] == [node.record["parent"]]
    # Sections are not made through the mount.
    res = run(["mkdir", str(project / "New section")])
    assert res.returncode != 0 and b"Operation not permitted" in res.stderr


def project_floor(world, project_gid, sections):
    """List requests of `find` over one project directory (100 items a page)."""
    floor = pages(len(world.attachments_of(project_gid)))
    if sections:
        secs = world.sections_of(project_gid)
        floor += pages(len(secs)) + sum(pages(len(s["tasks"])) for s in secs)
        tasks = [g for s in secs for g in s["tasks"]]
    else:
        tasks = [t["gid"] for t in world.tasks_of_project(project_gid)]
        floor += pages(len(tasks))

    def walk(gid):
        n = pages(len(world.attachments_of(gid))) + pages(len(world.subtasks_of(gid)))
        return n + sum(walk(s["gid"]) for s in world.subtasks_of(gid))
    return floor + sum(walk(g) for g in tasks)


@pytest.mark.parametrize("sections", [False, True], ids=["plain", "sections"])
def test_listing_a_project_costs_exactly_its_list_pages(make_mount, emulator, sections):
    world = World(emulator.state())
    project = project_of(world, "Design / Marketing")
    mnt = make_mount(options=("dir_ttl=3600", "poll_interval=0") + (("sections",) if sections
                                                                    else ()))
    os.listdir(mnt.path / "Acme Corp")
    emulator.reset_stats()
    entries = find_entries(mnt.path / "Acme Corp" / DESIGN)
    tree = world.expected_tree(sections=sections)
    prefix = f"Acme Corp/{DESIGN}/"
    assert set(entries) == {p[len(prefix):] for p in tree if p.startswith(prefix)}

    stats = emulator.stats()
    by_route = api_requests(stats)
    floor = project_floor(world, project["gid"], sections)
    assert sum(by_route.values()) == floor, by_route
    n_tasks = len(world.tasks_of_project(project["gid"]))
    n_secs = len(world.sections_of(project["gid"]))
    if sections:
        assert by_route.get("GET /projects/{gid}/sections") == 1
        assert by_route.get("GET /sections/{gid}/tasks") == n_secs
        assert "GET /projects/{gid}/tasks" not in by_route
    else:
        assert by_route.get("GET /projects/{gid}/tasks") == 1
        assert "GET /projects/{gid}/sections" not in by_route
    # The project's own attachment list plus one per task directory (subtasks included).
    assert by_route.get("GET /attachments") >= 1 + n_tasks
    assert stats["blob_requests"] == 0
    # Listing again within the TTL costs nothing.
    emulator.reset_stats()
    find_entries(mnt.path / "Acme Corp" / DESIGN)
    assert api_requests(emulator.stats()) == {}


@pytest.mark.mount_options("sections", "poll_interval=1", "dir_ttl=3600")
def test_with_sections_a_task_added_in_asana_shows_in_its_section(mount, emulator):
    world = World(emulator.state())
    project = project_of(world, "Design / Marketing")
    doing = next(s for s in world.sections_of(project["gid"]) if s["name"] == "Doing / now")
    section_dir = mount.path / "Acme Corp" / DESIGN / "Doing \u2215 now"
    assert os.listdir(section_dir) == ["Launch video"]
    end = time.monotonic() + 3
    while emulator.stats()["requests"].get("GET /events", 0) == 0 and time.monotonic() < end:
        time.sleep(0.1)

    emulator.add_object({"type": "task", "name": "Teaser", "project": project["gid"],
                         "section": doing["gid"]})
    end = time.monotonic() + 3
    while "Teaser" not in os.listdir(section_dir) and time.monotonic() < end:
        time.sleep(0.1)
    assert sorted(os.listdir(section_dir)) == ["Launch video", "Teaser"]
    assert "Teaser" not in os.listdir(mount.path / "Acme Corp" / DESIGN / "Backlog")
