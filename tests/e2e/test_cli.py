"""Command line: exit codes and messages, token sources, daemon mode, --help versus the man page."""

import os
import pathlib
import re
import socket
import subprocess
import time

import pytest

from conftest import E2E_TOKEN, SOURCE_ROOT, is_mounted, write_token_file

CLI_DEADLINE_S = 60


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if k != "ASANA_TOKEN"}
    env.update(extra)
    return env


def run_asanafs(asanafs_bin, *args, env=None):
    """Runs asanafs to completion; if it hangs (e.g. it mounted when it should have failed),
    kills it, unmounts whatever it mounted and fails the test."""
    try:
        return subprocess.run([asanafs_bin, *map(str, args)], capture_output=True, text=True,
                              env=env if env is not None else clean_env(),
                              stdin=subprocess.DEVNULL, timeout=CLI_DEADLINE_S)
    except subprocess.TimeoutExpired as e:
        mounted = [str(a) for a in args if os.path.isabs(str(a)) and is_mounted(a)]
        for path in mounted:
            subprocess.run(["fusermount3", "-u", "-z", path], capture_output=True)
        stderr = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else e.stderr
        pytest.fail(f"asanafs {' '.join(map(str, args))} did not exit within {CLI_DEADLINE_S} s"
                    f"{' (it had mounted ' + ', '.join(mounted) + ')' if mounted else ''}\n"
                    f"stderr:\n{stderr}")


def api_requests(emulator):
    return {k: v for k, v in emulator.stats()["requests"].items() if v}


def assert_failed_cleanly(res, mountpoint, code, message=None, message_prefix=None):
    """The daemon exited with `code`, said `message` on its last stderr line, mounted nothing."""
    detail = f"exit {res.returncode}\nstderr:\n{res.stderr}"
    assert res.returncode == code, detail
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert lines, f"no message on stderr\n{detail}"
    if message is not None:
        assert lines[-1] == message, detail
    if message_prefix is not None:
        assert lines[-1].startswith(message_prefix), detail
    assert not is_mounted(mountpoint), f"{mountpoint} is mounted after a failure"


@pytest.fixture
def workdir(tmp_path):
    (tmp_path / "mnt").mkdir()
    return tmp_path


def opts(emulator_url, workdir, token_file=None, *more):
    items = [f"api_url={emulator_url}", f"cache_dir={workdir / 'cache'}"]
    if token_file is not None:
        items.append(f"token_file={token_file}")
    return ",".join([*items, *more])


@pytest.mark.parametrize("foreground", [True, False], ids=["foreground", "daemon"])
def test_rejected_token_exits_1(asanafs_bin, emulator, workdir, foreground):
    token = write_token_file(workdir / "token", "not-the-token")
    args = ["-f"] if foreground else []
    res = run_asanafs(asanafs_bin, *args, workdir / "mnt", "-o",
                      opts(emulator.api_url, workdir, token))
    assert_failed_cleanly(res, workdir / "mnt", 1,
                          "asanafs: Asana rejected the token (401 Not Authorized)")
    assert api_requests(emulator) == {"GET /users/me": 1}


def test_rejected_token_from_environment_exits_1(asanafs_bin, emulator, workdir):
    res = run_asanafs(asanafs_bin, "-f", workdir / "mnt", "-o", opts(emulator.api_url, workdir),
                      env=clean_env(ASANA_TOKEN="wrong-token"))
    assert_failed_cleanly(res, workdir / "mnt", 1,
                          "asanafs: Asana rejected the token (401 Not Authorized)")
    assert api_requests(emulator) == {"GET /users/me": 1}


def test_missing_token_exits_2(asanafs_bin, emulator, workdir):
    res = run_asanafs(asanafs_bin, "-f", workdir / "mnt", "-o", opts(emulator.api_url, workdir))
    assert_failed_cleanly(res, workdir / "mnt", 2,
                          "asanafs: no Asana token: set ASANA_TOKEN or pass -o token_file=PATH")
    assert api_requests(emulator) == {}


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644])
def test_token_file_readable_by_others_exits_2(asanafs_bin, emulator, workdir, mode):
    token = write_token_file(workdir / "token", E2E_TOKEN, mode=mode)
    res = run_asanafs(asanafs_bin, "-f", workdir / "mnt", "-o",
                      opts(emulator.api_url, workdir, token))
    assert_failed_cleanly(
        res, workdir / "mnt", 2,
        f"asanafs: token file {token} is readable by group or others; run chmod 600 {token}")
    assert api_requests(emulator) == {}


@pytest.mark.parametrize("url,host", [("http://example.com/api/1.0", "example.com"),
                                      ("http://10.1.2.3:8080/api/1.0", "10.1.2.3")])
def test_plain_http_to_non_loopback_exits_2(asanafs_bin, workdir, url, host):
    token = write_token_file(workdir / "token", E2E_TOKEN)
    res = run_asanafs(asanafs_bin, "-f", workdir / "mnt", "-o", opts(url, workdir, token))
    assert_failed_cleanly(
        res, workdir / "mnt", 2,
        f"asanafs: refusing plain http:// for non-loopback host {host}; use https://")


def test_unreachable_api_exits_3(asanafs_bin, workdir):
    with socket.socket() as s:  # a loopback port that nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/api/1.0"
    token = write_token_file(workdir / "token", E2E_TOKEN)
    res = run_asanafs(asanafs_bin, "-f", workdir / "mnt", "-o",
                      opts(url, workdir, token, "timeout=5"))
    assert_failed_cleanly(res, workdir / "mnt", 3,
                          message_prefix=f"asanafs: cannot reach Asana at {url}: ")


@pytest.mark.parametrize("bad", ["no_such_option", "dir_ttl=soon", "timeout=-1",
                                 "log_level=loud"])
def test_bad_option_exits_2(asanafs_bin, emulator, workdir, bad):
    token = write_token_file(workdir / "token", E2E_TOKEN)
    res = run_asanafs(asanafs_bin, "-f", workdir / "mnt", "-o",
                      opts(emulator.api_url, workdir, token, bad))
    assert_failed_cleanly(res, workdir / "mnt", 2)
    assert set(api_requests(emulator)) <= {"GET /users/me"}


def test_missing_mountpoint_argument_exits_2(asanafs_bin, emulator, workdir):
    token = write_token_file(workdir / "token", E2E_TOKEN)
    res = run_asanafs(asanafs_bin, "-f", "-o", opts(emulator.api_url, workdir, token))
    assert res.returncode == 2, res.stderr
    assert api_requests(emulator) == {}


@pytest.mark.parametrize("kind", ["missing", "regular_file"])
def test_bad_mountpoint_exits_4(asanafs_bin, emulator, workdir, kind):
    target = workdir / "not-a-dir"
    if kind == "regular_file":
        target.write_text("x")
    token = write_token_file(workdir / "token", E2E_TOKEN)
    res = run_asanafs(asanafs_bin, "-f", target, "-o", opts(emulator.api_url, workdir, token))
    assert_failed_cleanly(res, target, 4)
    assert set(api_requests(emulator)) <= {"GET /users/me"}


def test_unusable_cache_dir_exits_5(asanafs_bin, emulator, workdir):
    blocker = workdir / "file"
    blocker.write_text("not a directory")
    token = write_token_file(workdir / "token", E2E_TOKEN)
    options = ",".join([f"api_url={emulator.api_url}", f"token_file={token}",
                        f"cache_dir={blocker / 'cache'}"])
    res = run_asanafs(asanafs_bin, "-f", workdir / "mnt", "-o", options)
    assert_failed_cleanly(res, workdir / "mnt", 5)
    assert set(api_requests(emulator)) <= {"GET /users/me"}


def test_cache_dir_in_use_by_another_mount_exits_5(asanafs_bin, emulator, make_mount, workdir):
    first = make_mount()
    res = run_asanafs(asanafs_bin, "-f", workdir / "mnt", "-o",
                      ",".join([f"api_url={emulator.api_url}", f"token_file={first.token_file}",
                                f"cache_dir={first.cache_dir}"]))
    assert_failed_cleanly(res, workdir / "mnt", 5)
    assert os.listdir(first.path), "the first mount stopped working"


def test_token_from_environment_mounts(make_mount, world):
    mnt = make_mount(start=False)
    mnt.options = [o for o in mnt.options if not o.startswith("token_file=")]
    mnt.env = clean_env(ASANA_TOKEN=E2E_TOKEN)
    mnt.start()
    assert sorted(os.listdir(mnt.path)) == sorted(
        p for p in world.expected_tree() if "/" not in p)


def test_daemon_mode_mounts_and_exits_after_unmount(asanafs_bin, emulator, workdir):
    token = write_token_file(workdir / "token", E2E_TOKEN)
    mnt = workdir / "mnt"
    res = run_asanafs(asanafs_bin, mnt, "-o", opts(emulator.api_url, workdir, token))
    try:
        assert res.returncode == 0, res.stderr
        assert is_mounted(mnt), "asanafs returned 0 but nothing is mounted"
        assert os.listdir(mnt)
    finally:
        subprocess.run(["fusermount3", "-u", str(mnt)], capture_output=True)
    deadline = time.monotonic() + 20
    while daemon_pids(mnt) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not daemon_pids(mnt), "the daemon kept running after fusermount3 -u"


def daemon_pids(mountpoint):
    pids = []
    for entry in pathlib.Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if str(mountpoint).encode() in argv and any(a.endswith(b"asanafs") for a in argv):
                pids.append(int(entry.name))
    return pids


# --help, --version and the man page.

def test_version(asanafs_bin):
    res = run_asanafs(asanafs_bin, "--version")
    assert res.returncode == 0, res.stderr
    meson_build = (SOURCE_ROOT / "meson.build").read_text()
    version = re.search(r"(?<![\w])version:\s*'([^']+)'", meson_build).group(1)
    assert f"asanafs {version}" in res.stdout + res.stderr


def help_text(asanafs_bin):
    res = run_asanafs(asanafs_bin, "--help")
    assert res.returncode == 0, res.stderr
    text = res.stdout + res.stderr
    assert "MOUNTPOINT" in text
    return text


OPTION_NAME = re.compile(r"-o\s+([a-z][a-z0-9_]*)")
FLAG = re.compile(r"(?<![\w-])(--[a-z][a-z-]*|-[a-zA-Z])(?![\w-])")


def options_in_help(text):
    names, flags = set(), set()
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped.startswith("-"):
            continue  # only lines that document an option
        names.update(OPTION_NAME.findall(stripped))
        # The option columns ("-h   --help"), not the description after them.
        for column in re.split(r"\s{2,}", stripped):
            if not column.startswith("-"):
                break
            flags.update(f for f in FLAG.findall(column) if f != "-o")
    return names, flags


def options_in_man_page():
    """Option terms of the OPTIONS section of man/asanafs.1.rst (definition-list terms)."""
    text = (SOURCE_ROOT / "man" / "asanafs.1.rst").read_text()
    section = re.search(r"^Options\n=+\n(.*?)^[A-Z][^\n]*\n=+\n", text, re.S | re.M)
    assert section, "the man page has no Options section"
    names, flags = set(), set()
    for line in section.group(1).splitlines():
        if line.startswith("-"):  # a term at column 0; descriptions are indented
            names.update(OPTION_NAME.findall(line))
            flags.update(f for f in FLAG.findall(line) if f != "-o")
    return names, flags


def test_help_and_man_page_document_the_same_options(asanafs_bin):
    help_names, help_flags = options_in_help(help_text(asanafs_bin))
    man_names, man_flags = options_in_man_page()
    for required in ["token_file", "api_url", "cache_dir", "dir_ttl", "timeout", "log_level",
                     "redact"]:
        assert required in help_names, f"--help does not list -o {required}"
    assert help_names == man_names, (f"only in --help: {sorted(help_names - man_names)}; "
                                     f"only in the man page: {sorted(man_names - help_names)}")
    assert help_flags == man_flags, (f"only in --help: {sorted(help_flags - man_flags)}; "
                                     f"only in the man page: {sorted(man_flags - help_flags)}")
