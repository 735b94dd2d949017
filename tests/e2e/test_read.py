"""Reading: content of every file, fresh download URLs, no token sent to the storage host."""

import hashlib
import os
import time

import pytest

from conftest import E2E_TOKEN, run


def files_of(world):
    return {rel: n for rel, n in world.expected_tree().items() if n.kind == "file"}


def sha256sum(paths):
    """sha256 of each path, computed by the real `sha256sum` tool in one run."""
    res = run(["sha256sum", "--", *map(str, paths)], timeout=600)
    assert res.returncode == 0, res.stderr.decode(errors="replace")
    lines = res.stdout.decode("utf-8", errors="surrogateescape").splitlines()
    assert len(lines) == len(paths)
    # A line starting with '\' has an escaped name; the digest follows the backslash.
    return [line[1:65] if line.startswith("\\") else line[:64] for line in lines]


def expected_digest(emulator, node):
    if node.kind_detail == "link":
        return hashlib.sha256(node.content).hexdigest()
    return hashlib.sha256(emulator.content(node.gid)).hexdigest()


def test_sha256sum_of_every_file_matches_the_emulator(mount, emulator, world):
    files = files_of(world)
    rels = sorted(files)
    digests = sha256sum([mount.path / rel for rel in rels])
    wrong = [rel for rel, got in zip(rels, digests) if got != expected_digest(emulator, files[rel])]
    assert not wrong, f"content differs for: {wrong}"

    stats = emulator.stats()
    hosted = [n for n in files.values() if n.kind_detail == "attachment" and n.size > 0]
    assert hosted and stats["blob_requests"] > 0, "nothing was downloaded from the blob route"
    assert stats["blob_auth_headers"] == 0, "the Asana token was sent to the storage host"


def test_url_files_hold_exactly_the_shortcut(mount, world):
    links = {rel: n for rel, n in files_of(world).items() if n.kind_detail == "link"}
    assert links
    for rel, node in links.items():
        data = (mount.path / rel).read_bytes()
        assert data == node.content
        assert data.startswith(b"[InternetShortcut]\nURL=https://")


def test_large_file_ranges(mount, emulator, world):
    """Reads at scattered offsets (HTTP Range on the blob route) return the right bytes."""
    rel, node = max(files_of(world).items(), key=lambda kv: kv[1].size or 0)
    assert node.size >= 5 * 1024 * 1024
    content = emulator.content(node.gid)
    fd = os.open(mount.path / rel, os.O_RDONLY)
    try:
        for offset, length in [(node.size - 1000, 4096), (3 * 1024 * 1024 + 17, 70000),
                               (0, 1), (1024 * 1024 - 5, 10), (node.size, 10)]:
            got = os.pread(fd, length, offset)
            assert got == content[offset:offset + length], f"pread({length}, {offset})"
    finally:
        os.close(fd)


def test_cached_file_reads_at_any_offset_and_stops_at_eof(mount, emulator, world):
    """Once a file is cached, reads are answered from the cache file (spliced): the same
    scattered ranges, a read across the end and one past it give exactly the content."""
    rel, node = max(files_of(world).items(), key=lambda kv: kv[1].size or 0)
    content = emulator.content(node.gid)
    path = mount.path / rel
    assert path.read_bytes() == content  # now complete in the cache
    assert os.stat(path).st_blksize == 1 << 20
    emulator.reset_stats()
    fd = os.open(path, os.O_RDONLY)
    try:
        # Out of the kernel's page cache, so that the reads reach asanafs.
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        for offset, length in [(node.size - 1000, 4096), (3 * 1024 * 1024 + 17, 70000),
                               (0, 1), (1024 * 1024 - 5, 2 << 20), (node.size, 10)]:
            got = os.pread(fd, length, offset)
            assert got == content[offset:offset + length], f"pread({length}, {offset})"
    finally:
        os.close(fd)
    assert emulator.stats()["blob_requests"] == 0, "a cached file was fetched again"


def test_empty_file_reads_empty(mount, world):
    empty = [rel for rel, n in files_of(world).items()
             if n.kind_detail == "attachment" and n.size == 0]
    assert empty, "the seed has no 0-byte file"
    for rel in empty:
        assert (mount.path / rel).read_bytes() == b""


@pytest.mark.emulator(url_ttl_s=2)
def test_open_after_url_ttl_reads_correctly(mount, emulator, world):
    hosted = sorted((rel, n) for rel, n in files_of(world).items()
                    if n.kind_detail == "attachment" and n.size > 0)
    (rel_a, node_a), (rel_b, node_b) = hosted[0], hosted[1]
    assert (mount.path / rel_a).read_bytes() == emulator.content(node_a.gid)
    time.sleep(3)  # every download URL handed out so far has expired
    assert (mount.path / rel_b).read_bytes() == emulator.content(node_b.gid)
    assert (mount.path / rel_a).read_bytes() == emulator.content(node_a.gid)


@pytest.mark.emulator(url_ttl_s=2)
def test_one_open_handle_survives_url_expiry(mount, emulator, world):
    """A 403 from the storage host after the URL expired triggers a refresh, not EIO."""
    rel, node = max(files_of(world).items(), key=lambda kv: kv[1].size or 0)
    content = emulator.content(node.gid)
    with open(mount.path / rel, "rb", buffering=0) as f:
        head = f.read(4096)
        time.sleep(3)
        f.seek(node.size - 4096)
        tail = f.read(4096)
    assert head == content[:4096]
    assert tail == content[-4096:]


@pytest.mark.mount_options("log_level=debug")
def test_token_never_logged(mount, emulator, world):
    files = files_of(world)
    rel = next(rel for rel, n in sorted(files.items()) if n.kind_detail == "attachment")
    (mount.path / rel).read_bytes()
    os.listdir(mount.path)
    # An upload, so that the write path's requests and debug records are covered too.
    (mount.path / rel).with_name("token-check.txt").write_bytes(b"hello\n")
    assert mount.unmount() == 0
    assert "DEBUG" in mount.stderr_text(), "log_level=debug produced no debug records"
    assert E2E_TOKEN not in mount.stderr_text()
