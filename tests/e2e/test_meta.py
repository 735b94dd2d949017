"""Metadata without requests: user.asana.* extended attributes read with getfattr(1), and the
hidden /.asanafs-status file showing staged, failed and landed uploads."""

import datetime
import os
import re
import shutil
import threading
import time

import pytest

from conftest import run
from write_helpers import (UPLOAD_FAILURE_LINES, named, random_bytes, task_for_writes, wait_until,
                           write_local)

PREFIX = "user.asana."
STATUS = ".asanafs-status"


@pytest.fixture(autouse=True)
def _need_getfattr():
    if shutil.which("getfattr") is None:
        pytest.fail("getfattr(1) is not installed (package attr); these tests need it")


def getfattr(path):
    """{name: value} of `getfattr -d -m user.asana` on `path` (values as text)."""
    res = run(["getfattr", "-d", "-m", "user.asana", "-e", "text", "--absolute-names", str(path)])
    assert res.returncode == 0, res.stderr.decode(errors="replace")
    attrs = {}
    for line in res.stdout.decode().splitlines():
        if not line or line.startswith("# file:"):
            continue
        m = re.fullmatch(r'([^=]+)="(.*)"', line)
        assert m, f"unexpected getfattr output line: {line!r}"
        attrs[m.group(1)] = m.group(2).encode().decode("unicode_escape")
    return attrs


def same_instant(a, b):
    def parse(text):
        return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parse(a) == parse(b)


def settle(emulator, quiet_s=1.0, deadline_s=30):
    """Waits until the mount's background work (listing prefetch started by the traversal
    above) has stopped sending requests, so the next delta is the test's own."""
    deadline = time.monotonic() + deadline_s
    last = api_requests(emulator)
    quiet_since = time.monotonic()
    while time.monotonic() - quiet_since < quiet_s:
        if time.monotonic() > deadline:
            pytest.fail(f"the mount kept sending requests for {deadline_s} s with nothing to do")
        time.sleep(0.1)
        now = api_requests(emulator)
        if now != last:
            last, quiet_since = now, time.monotonic()


def api_requests(emulator):
    """(API requests, blob downloads) since the last reset. GET /events is left out: change
    polling runs on its own timer for directories in use, whatever getfattr does."""
    stats = emulator.stats()
    api = sum(n for route, n in stats["requests"].items() if route != "GET /events")
    return api, stats["blob_requests"]


def pick(world, kind_detail, predicate=lambda rel, node: True):
    for rel, node in sorted(world.expected_tree().items()):
        if node.kind_detail == kind_detail and predicate(rel, node):
            return rel, node
    pytest.fail(f"the seed has no {kind_detail}")


def test_getfattr_on_files_and_directories_shows_asana_metadata_without_requests(
        mount, emulator, world):
    tree = world.expected_tree()
    file_rel, file_node = pick(world, "attachment", lambda rel, n: rel.count("/") == 3)
    task_rel = file_rel.rsplit("/", 1)[0]
    task_node = tree[task_rel]
    project_rel = task_rel.rsplit("/", 1)[0]
    workspace_rel = project_rel.split("/", 1)[0]
    link = [(rel, n) for rel, n in sorted(tree.items()) if n.kind_detail == "link"]
    # Listings first (what ls or a file manager has done before anyone asks for metadata).
    for rel in {workspace_rel, project_rel, task_rel} | {r.rsplit("/", 1)[0] for r, _ in link}:
        os.listdir(mount.path / rel)
    settle(emulator)
    emulator.reset_stats()

    file_attrs = getfattr(mount.path / file_rel)
    task_attrs = getfattr(mount.path / task_rel)
    project_attrs = getfattr(mount.path / project_rel)
    workspace_attrs = getfattr(mount.path / workspace_rel)
    link_attrs = getfattr(mount.path / link[0][0]) if link else None
    assert api_requests(emulator) == (0, 0), f"getfattr made requests: {emulator.stats()}"

    record = file_node.record
    assert file_attrs == {
        PREFIX + "gid": file_node.gid,
        PREFIX + "resource_type": "attachment",
        PREFIX + "url": record["view_url"],
        PREFIX + "host": record["host"],
        PREFIX + "created_at": file_attrs.get(PREFIX + "created_at"),
    }, file_attrs
    assert same_instant(file_attrs[PREFIX + "created_at"], record["created_at"])

    status, task_json = emulator.api_get(f"/tasks/{task_node.gid}?opt_fields=permalink_url")
    assert status == 200
    assert task_attrs == {
        PREFIX + "gid": task_node.gid,
        PREFIX + "resource_type": "task",
        PREFIX + "url": task_json["data"]["permalink_url"],
        PREFIX + "created_at": task_attrs.get(PREFIX + "created_at"),
    }, task_attrs
    assert same_instant(task_attrs[PREFIX + "created_at"], task_node.record["created_at"])
    assert project_attrs[PREFIX + "gid"] == tree[project_rel].gid
    assert project_attrs[PREFIX + "resource_type"] == "project"
    assert workspace_attrs[PREFIX + "gid"] == tree[workspace_rel].gid
    assert workspace_attrs[PREFIX + "resource_type"] == "workspace"
    if link_attrs is not None:
        node = link[0][1]
        assert link_attrs[PREFIX + "gid"] == node.gid
        assert link_attrs[PREFIX + "host"] == node.record["host"]
        assert link_attrs[PREFIX + "url"] == node.record["view_url"]
    # Nothing at the root, and the status file is not listed.
    assert getfattr(mount.path) == {}
    assert STATUS not in os.listdir(mount.path)


def test_getfattr_on_a_file_never_opened_costs_nothing_after_a_cold_listing(mount, emulator, world):
    """Even the first getfattr after mounting costs only the listings stat needs anyway."""
    file_rel, node = pick(world, "attachment", lambda rel, n: rel.count("/") == 3)
    os.stat(mount.path / file_rel)  # lookups list the parents, as any path access does
    settle(emulator)
    emulator.reset_stats()
    assert getfattr(mount.path / file_rel)[PREFIX + "gid"] == node.gid
    assert api_requests(emulator) == (0, 0)


def read_status(mount):
    return (mount.path / STATUS).read_text()


def status_lines(mount, name):
    return [line for line in read_status(mount).splitlines() if line.rstrip().endswith(name)
            or f"\t{name}\t" in line]


def test_staged_then_uploaded_shows_in_status_and_xattr(mount, emulator, world):
    (rel, task), = task_for_writes(world)
    path = mount.path / rel / "progress.bin"
    data = random_bytes(5000, "progress")
    emulator.reset_stats()
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        # Still open for writing: staged locally, nothing sent.
        assert getfattr(path)[PREFIX + "upload_state"] == "staged"
        lines = status_lines(mount, "progress.bin")
        assert len(lines) == 1, read_status(mount)
        assert "\ttask " + task.gid + "\t" in lines[0], lines
        assert "uploads not yet in Asana: 1 (0 failed" in read_status(mount)
        assert emulator.stats()["uploads"] == 0
    # Closed: uploaded, and the file now is the attachment.
    landed = named(emulator, task.gid, "progress.bin")
    assert len(landed) == 1
    attrs = getfattr(path)
    assert attrs[PREFIX + "upload_state"] == "uploaded"
    assert attrs[PREFIX + "gid"] == landed[0]["gid"]
    assert status_lines(mount, "progress.bin") == []
    assert "uploads not yet in Asana: 0 " in read_status(mount)


def test_failed_upload_shows_failed_with_reason_then_uploaded(mount, emulator, world, tmp_path):
    mount.allow(UPLOAD_FAILURE_LINES)
    (rel, task), = task_for_writes(world)
    data = random_bytes(12_345, "failing")
    src = write_local(tmp_path / "src" / "failing.bin", data)
    emulator.set_faults("500@POST /attachments")
    res = run(["cp", str(src), str(mount.path / rel) + "/"])
    assert res.returncode != 0, "cp succeeded although every upload fails"
    path = mount.path / rel / "failing.bin"

    state = getfattr(path)[PREFIX + "upload_state"]
    assert state.startswith("failed: ") and len(state) > len("failed: "), state
    assert PREFIX + "gid" not in getfattr(path)  # not in Asana yet
    lines = status_lines(mount, "failing.bin")
    assert len(lines) == 1, read_status(mount)
    fields = lines[0].strip().split("\t")
    assert fields[0] in ("failed", "uploading"), lines  # a retry may be under way
    # bytes: the size, or "sent/size" while a retry is on the wire
    assert re.fullmatch(rf"(\d+/)?{len(data)} bytes", fields[1]), lines
    assert fields[2] == f"task {task.gid}", lines
    assert re.search(r"uploads not yet in Asana: 1 \(1 failed", read_status(mount)) or \
        fields[0] == "uploading", read_status(mount)

    emulator.set_faults("")
    wait_until(lambda: named(emulator, task.gid, "failing.bin"),
               "the failed upload landed after faults were cleared")
    wait_until(lambda: getfattr(path).get(PREFIX + "upload_state") == "uploaded",
               "user.asana.upload_state became uploaded")
    assert getfattr(path)[PREFIX + "gid"] == named(emulator, task.gid, "failing.bin")[0]["gid"]
    assert status_lines(mount, "failing.bin") == []


@pytest.mark.emulator("small", latency_ms=1500)
def test_upload_in_flight_shows_uploading(mount, emulator, world, tmp_path):
    """While POST /attachments is on the wire (every API reply takes 1.5 s here), both the
    status file and user.asana.upload_state say uploading; afterwards, uploaded."""
    (rel, task), = task_for_writes(world)
    os.listdir(mount.path / rel)
    data = random_bytes(20_000, "in-flight")
    src = write_local(tmp_path / "src" / "inflight.bin", data)
    path = mount.path / rel / "inflight.bin"
    result = {}
    copier = threading.Thread(
        target=lambda: result.update(res=run(["cp", str(src), str(mount.path / rel) + "/"])))
    copier.start()
    seen_status = seen_xattr = False
    try:
        while copier.is_alive() and not (seen_status and seen_xattr):
            if not seen_status:
                lines = status_lines(mount, "inflight.bin")
                # While the reply is held back, the whole body has been sent.
                seen_status = any(line.strip().startswith("uploading\t20000/20000 bytes\t")
                                  for line in lines)
            if not seen_xattr and os.path.exists(path):
                try:
                    seen_xattr = os.getxattr(path, PREFIX + "upload_state") == b"uploading"
                except OSError:
                    pass  # not created yet, or no state yet
            time.sleep(0.02)
    finally:
        copier.join(timeout=120)
    assert not copier.is_alive(), "cp did not finish"
    assert result["res"].returncode == 0, result["res"].stderr
    assert seen_status, "the status file never showed the upload as uploading, all bytes sent"
    assert seen_xattr, "user.asana.upload_state never said uploading"
    assert getfattr(path)[PREFIX + "upload_state"] == "uploaded"
    assert len(named(emulator, task.gid, "inflight.bin")) == 1
