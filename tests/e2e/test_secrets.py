"""The token never leaks: not in logs (debug level, also with -d), argv, xattrs, the status file,
error messages or the cache directory, and it is never sent to the download host.

The daemon reads the token from token_file (conftest), so /proc/<pid>/environ
never had it. `http://` to a host that is not loopback is refused before any
connection is made.
"""

import os
import select
import socket
import subprocess

from conftest import E2E_TOKEN, run
from fault_helpers import FAULT_LINES, write_seed
from write_helpers import random_bytes, wait_until, write_local

TOKEN = E2E_TOKEN.encode()


def secrets_seed(tmp_path):
    return write_seed(tmp_path / "secrets.json", [{"name": "W", "projects": [{"name": "P", "tasks": [
        {"name": "T", "attachments": [{"name": "a.bin", "size": 2_500_000},
                                      {"name": "b.txt", "content": "bee\n"}]},
        {"name": "Up"}, {"name": "Broken"}]}]}])


def exercise(emulator, mnt, tmp_path):
    """Reads, writes and errors through the mount; returns every message the tools printed."""
    base = mnt.path / "W" / "P"
    said = []

    def tool(cmd):
        res = run(cmd, timeout=120)
        said.append(res.stdout + res.stderr)
        return res

    # Errors: a failed listing, a failed upload, a missing file, a refused operation.
    emulator.set_faults("503@GET /attachments")
    assert tool(["ls", str(base / "Broken")]).returncode != 0
    emulator.set_faults("")
    assert tool(["ls", "-laR", str(mnt.path)]).returncode == 0
    assert tool(["cat", str(base / "T" / "a.bin"), str(base / "T" / "b.txt")]).returncode == 0
    src = write_local(tmp_path / "src" / "up.bin", random_bytes(100_000, "secrets"))
    assert tool(["cp", str(src), str(base / "Up") + "/"]).returncode == 0
    emulator.set_faults("500@POST /attachments")
    assert tool(["cp", str(src), str(base / "Up" / "fails.bin")]).returncode != 0
    emulator.set_faults("")
    assert tool(["cat", str(base / "T" / "missing")]).returncode != 0
    assert tool(["ln", "-s", "x", str(base / "T" / "link")]).returncode != 0
    wait_until(lambda: emulator.stats()["uploads"] >= 2, "the failed upload retried and landed")
    # Every xattr of every file, and the status file.
    res = tool(["getfattr", "-R", "-d", "-m", "-", "--absolute-names", str(mnt.path)])
    assert b"user.asana." in res.stdout, f"getfattr showed no asanafs xattrs: {res.stderr[:300]!r}"
    status = mnt.path / ".asanafs-status"
    if status.exists():
        said.append(status.read_bytes())
    return said


def assert_no_token(mnt, said):
    pid = mnt.proc.pid
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        assert TOKEN not in f.read(), "token in the daemon's argv"
    with open(f"/proc/{pid}/environ", "rb") as f:
        assert TOKEN not in f.read(), "token in the daemon's environment"
    for i, text in enumerate(said):
        assert TOKEN not in text, f"token in tool output #{i}: {text[:300]!r}"
    for dirpath, _, files in os.walk(mnt.cache_dir):
        for name in files:
            with open(os.path.join(dirpath, name), "rb") as f:
                assert TOKEN not in f.read(), f"token stored in the cache dir: {name}"


def test_token_never_leaks_at_debug_level(make_emulator, make_mount, tmp_path):
    emulator = make_emulator(seed=secrets_seed(tmp_path))
    mnt = make_mount(emu=emulator, options=["log_level=debug"])
    mnt.allow(FAULT_LINES)
    emulator.reset_stats()
    said = exercise(emulator, mnt, tmp_path)
    assert_no_token(mnt, said)
    stats = emulator.stats()
    assert stats["blob_requests"] > 0 and stats["blob_auth_headers"] == 0, stats
    assert mnt.unmount() == 0
    log = mnt.stderr_text()
    assert "debug" in log.lower() or "DEBUG" in log, "log_level=debug wrote no debug records"
    assert E2E_TOKEN not in log, "token in the daemon's log"


def test_token_never_leaks_with_fuse_debug(make_emulator, make_mount, tmp_path):
    emulator = make_emulator(seed=secrets_seed(tmp_path))
    mnt = make_mount(emu=emulator, options=["log_level=debug"], start=False)
    plain = mnt.command
    mnt.command = lambda: [plain()[0], "-d", *plain()[2:]]
    mnt.start()
    mnt.allow(FAULT_LINES)
    mnt.allow(r"^\s*(unique|opcode|INIT|flags|max_|time_gran|congestion|   )")
    emulator.reset_stats()
    said = exercise(emulator, mnt, tmp_path)
    assert_no_token(mnt, said)
    assert emulator.stats()["blob_auth_headers"] == 0
    assert mnt.unmount() == 0
    log = mnt.stderr_text()
    assert "opcode" in log or "unique" in log, "-d wrote no FUSE request log"
    assert E2E_TOKEN not in log, "token in the daemon's -d log"


def non_loopback_address():
    """An IPv4 address of this machine that is not loopback, or None."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect(("203.0.113.1", 9))  # no packet is sent for a UDP connect
        addr = s.getsockname()[0]
    except OSError:
        return None
    finally:
        s.close()
    return None if addr.startswith("127.") else addr


def test_plain_http_to_a_remote_host_is_refused_before_connecting(asanafs_bin, tmp_path):
    from conftest import write_token_file
    addr = non_loopback_address()
    listener = None
    if addr:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind((addr, 0))
        listener.listen(8)
        port = listener.getsockname()[1]
    else:
        addr, port = "203.0.113.7", 80
    token = write_token_file(tmp_path / "tok", E2E_TOKEN)
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    try:
        res = subprocess.run([asanafs_bin, "-f", str(mnt), "-o",
                              f"api_url=http://{addr}:{port}/api/1.0,token_file={token},"
                              f"cache_dir={tmp_path / 'cache'}"],
                             capture_output=True, timeout=60)
        err = res.stderr.decode(errors="replace")
        assert res.returncode == 2, f"exit {res.returncode}: {err}"
        assert "http" in err and err.startswith("asanafs:"), err
        assert E2E_TOKEN not in err
        if listener is not None:
            ready, _, _ = select.select([listener], [], [], 0)
            assert not ready, f"asanafs connected to http://{addr}:{port} before refusing it"
    finally:
        if listener is not None:
            listener.close()


def test_rejected_token_is_not_echoed(asanafs_bin, emulator, tmp_path):
    from conftest import write_token_file
    wrong = "wrong-token-7c1e55d0aa"
    token = write_token_file(tmp_path / "wrong.tok", wrong)
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    res = subprocess.run([asanafs_bin, "-f", "-o", "log_level=debug", str(mnt), "-o",
                          f"api_url={emulator.api_url},token_file={token},"
                          f"cache_dir={tmp_path / 'cache'}"], capture_output=True, timeout=60)
    out = (res.stdout + res.stderr).decode(errors="replace")
    assert res.returncode == 1, f"exit {res.returncode}: {out}"
    assert wrong not in out and E2E_TOKEN not in out, out


def test_token_from_environment_is_wiped_from_proc_environ(make_mount):
    """ASANA_TOKEN works, and the daemon overwrites it in its own environment block, so
    /proc/<pid>/environ (which shows the original block, not the libc view) no longer holds it."""
    env = dict(os.environ, ASANA_TOKEN=E2E_TOKEN)
    mnt = make_mount(start=False, env=env)
    mnt.options = [o for o in mnt.options if not o.startswith("token_file=")]
    mnt.start()
    assert sorted(os.listdir(mnt.path)), "the mount authenticated with ASANA_TOKEN shows nothing"
    with open(f"/proc/{mnt.proc.pid}/environ", "rb") as f:
        environ = f.read()
    assert b"ASANA_TOKEN=" in environ, "the test did not pass the token through the environment"
    assert TOKEN not in environ, "token left in the daemon's /proc/<pid>/environ"
    assert_no_token(mnt, [])
