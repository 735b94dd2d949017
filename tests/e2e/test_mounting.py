"""Mounting conventions: /etc/fstab through mount(8) and mount.fuse3, token_command, daemon mode
logging to syslog, foreground log levels, uid/gid/umask and allow_other.

Every daemon-mode mount here is found again through /proc and made to exit; a test that leaves
something mounted fails.
"""

import json
import os
import pathlib
import re
import shutil
import stat
import subprocess
import sys
import textwrap
import time

import pytest

from conftest import E2E_TOKEN, is_mounted, run, write_token_file

EXIT_DEADLINE_S = 20


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if k != "ASANA_TOKEN"}
    env.update(extra)
    return env


def mountinfo(path):
    """(fstype, source, super options) of the mount at `path`, or None."""
    target = os.path.realpath(path)
    with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            fields = line.split(" ")
            mount_point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[4])
            if mount_point == target:
                sep = fields.index("-")
                return fields[sep + 1], fields[sep + 2], fields[sep + 3].strip()
    return None


def daemon_pids(mountpoint):
    """Pids of asanafs processes whose command line names `mountpoint`."""
    pids = []
    for entry in pathlib.Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if str(mountpoint).encode() in argv and any(
                    os.path.basename(a) == b"asanafs" for a in argv):
                pids.append(int(entry.name))
    return pids


def unmount_daemon(mountpoint):
    """Unmounts a daemon-mode mount and fails unless its daemon exits."""
    if is_mounted(mountpoint):
        res = run(["fusermount3", "-u", str(mountpoint)])
        if res.returncode != 0:
            run(["fusermount3", "-u", "-z", str(mountpoint)])
    deadline = time.monotonic() + EXIT_DEADLINE_S
    while daemon_pids(mountpoint) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = daemon_pids(mountpoint)
    assert not left, f"asanafs {left} kept running after its mount at {mountpoint} went away"


@pytest.fixture
def workdir(tmp_path):
    (tmp_path / "mnt").mkdir()
    yield tmp_path
    if is_mounted(tmp_path / "mnt") or daemon_pids(tmp_path / "mnt"):
        unmount_daemon(tmp_path / "mnt")


def top_level(world):
    return sorted(p for p in world.expected_tree() if "/" not in p)


# ---- /etc/fstab ---------------------------------------------------------------------------

# Options from fstab that are meant for mount(8), systemd or mount.fuse3, not for the file
# system: mount(8) strips some, mount.fuse3 others; whatever reaches asanafs must not fail it.
FSTAB_NOISE = ["_netdev", "nofail", "noauto", "user", "x-systemd.automount",
               "x-systemd.idle-timeout=60", "comment=asana", "noatime", "relatime", "nonempty"]


def fstab_options(emulator, workdir, token):
    return ",".join([f"token_file={token}", f"api_url={emulator.api_url}",
                     f"cache_dir={workdir / 'cache'}", *FSTAB_NOISE])


def test_fstab_line_mounts_with_mount_dash_T(asanafs_bin, emulator, world, workdir):
    """mount -T FSTAB MOUNTPOINT → mount.fuse3 → `asanafs asana MOUNTPOINT -o ...` (daemon)."""
    if shutil.which("mount") is None or shutil.which("mount.fuse3") is None:
        pytest.skip("mount(8) or mount.fuse3 is not installed")
    if os.geteuid() != 0:
        pytest.skip("mount -T needs root")
    token = write_token_file(workdir / "token", E2E_TOKEN)
    mnt = workdir / "mnt"
    # mount(8) runs helpers with an empty environment (no PATH), so the fstab line names the
    # binary with mount.fuse3's PROGRAM#SOURCE form and the plain "fuse" type; the
    # fuse.asanafs type is exercised through mount.fuse3 below.
    # The token comes from token_command, with the space written as \040 as fstab(5) wants.
    options = fstab_options(emulator, workdir, token).replace(
        f"token_file={token}", f"token_command=cat\\040{token}")
    assert "token_command=cat\\040/" in options
    fstab = workdir / "fstab"
    fstab.write_text(f"# test fstab\n{asanafs_bin}#asana  {mnt}  fuse  {options}  0  0\n")
    res = run(["mount", "-T", str(fstab), str(mnt)], env=clean_env(), stdin=subprocess.DEVNULL,
              timeout=60)
    try:
        assert res.returncode == 0, res.stderr.decode(errors="replace")
        assert res.stderr == b"", "a daemon-mode mount printed on stderr: " + res.stderr.decode()
        info = mountinfo(mnt)
        assert info is not None, "mount returned 0 but nothing is mounted"
        fstype, source, super_options = info
        assert (fstype, source) == ("fuse.asanafs", "asana"), info
        assert sorted(os.listdir(mnt)) == top_level(world)
        assert [p for p in daemon_pids(mnt)], "no asanafs daemon serves the mount"
    finally:
        # umount(8) of a FUSE mount as root, like a shutdown would do it.
        umount = run(["umount", str(mnt)])
    assert umount.returncode == 0, umount.stderr
    unmount_daemon(mnt)
    assert emulator.stats()["requests"].get("GET /users/me") == 1  # one daemon, one token check


def test_fuse_asanafs_type_through_mount_fuse3(asanafs_bin, emulator, world, workdir):
    """What mount(8) runs for an fstab line of type fuse.asanafs: `mount.fuse3 SOURCE MOUNTPOINT
    -t fuse.asanafs -o OPTIONS`, with asanafs found on PATH."""
    if shutil.which("mount.fuse3") is None:
        pytest.skip("mount.fuse3 is not installed")
    bindir = workdir / "bin"
    bindir.mkdir()
    (bindir / "asanafs").symlink_to(asanafs_bin)
    token = write_token_file(workdir / "token", E2E_TOKEN)
    mnt = workdir / "mnt"
    env = clean_env(PATH=f"{bindir}:{os.environ.get('PATH', '/usr/bin:/bin')}")
    res = run([shutil.which("mount.fuse3"), "my-asana", str(mnt), "-t", "fuse.asanafs", "-o",
               fstab_options(emulator, workdir, token) + ",defaults,ro"],
              env=env, stdin=subprocess.DEVNULL, timeout=60)
    try:
        assert res.returncode == 0, res.stderr.decode(errors="replace")
        info = mountinfo(mnt)
        assert info is not None, "mount.fuse3 returned 0 but nothing is mounted"
        assert info[:2] == ("fuse.asanafs", "my-asana"), info
        assert sorted(os.listdir(mnt)) == top_level(world)
        # -o ro from the fstab line reached asanafs and the kernel.
        with pytest.raises(OSError) as err:
            os.mkdir(mnt / top_level(world)[0] / "new-project")
        assert err.value.errno == 30  # EROFS
    finally:
        unmount_daemon(mnt)


@pytest.mark.parametrize("args", [["a", "b", "MNT"]], ids=["three-positionals"])
def test_more_than_source_and_mountpoint_is_a_usage_error(asanafs_bin, emulator, workdir, args):
    token = write_token_file(workdir / "token", E2E_TOKEN)
    argv = [str(workdir / "mnt") if a == "MNT" else a for a in args]
    res = run([asanafs_bin, "-f", *argv, "-o",
               f"token_file={token},api_url={emulator.api_url},cache_dir={workdir / 'cache'}"],
              env=clean_env(), stdin=subprocess.DEVNULL, timeout=60)
    assert res.returncode == 2, res.stderr
    assert res.stderr.decode().strip().splitlines()[-1] == (
        "asanafs: too many arguments: expected [SOURCE] MOUNTPOINT")
    assert not is_mounted(workdir / "mnt")
    assert emulator.stats()["total_api_requests"] == 0


# ---- token_command ------------------------------------------------------------------------


def test_token_command_provides_the_token_and_is_never_logged(make_mount, world, tmp_path):
    secret = tmp_path / "secret"
    write_token_file(secret, E2E_TOKEN)
    mnt = make_mount(start=False, options=["log_level=debug"])
    mnt.options = [o for o in mnt.options if not o.startswith("token_file=")]
    mnt.options.append(f"token_command=cat {secret}")
    mnt.env = clean_env()
    mnt.start()
    assert sorted(os.listdir(mnt.path)) == top_level(world)
    assert mnt.unmount() == 0
    log = mnt.stderr_text()
    assert "DEBUG" in log, "log_level=debug wrote no debug records"
    assert E2E_TOKEN not in log


@pytest.mark.parametrize("command,message", [
    ("echo " + E2E_TOKEN + "; exit 3", "token_command 'echo {t}; exit 3' exited with status 3"),
    ("true", "token_command 'true' printed no token"),
    ("/nonexistent/token-helper", "token_command '/nonexistent/token-helper' exited with status 127"),
], ids=["fails", "prints-nothing", "missing"])
@pytest.mark.parametrize("foreground", [True, False], ids=["foreground", "daemon"])
def test_token_command_failure_exits_2_before_any_request(asanafs_bin, emulator, workdir, command,
                                                          message, foreground):
    res = run([asanafs_bin, *(["-f"] if foreground else []), str(workdir / "mnt"), "-o",
               f"api_url={emulator.api_url},cache_dir={workdir / 'cache'},token_command={command}"],
              env=clean_env(), stdin=subprocess.DEVNULL, timeout=60)
    stderr = res.stderr.decode(errors="replace")
    assert res.returncode == 2, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert lines and lines[-1] == "asanafs: " + message.format(t=E2E_TOKEN), stderr
    assert not is_mounted(workdir / "mnt")
    assert emulator.stats()["total_api_requests"] == 0


def test_token_command_with_a_wrong_token_exits_1(asanafs_bin, emulator, workdir):
    res = run([asanafs_bin, "-f", str(workdir / "mnt"), "-o",
               f"api_url={emulator.api_url},cache_dir={workdir / 'cache'},"
               "token_command=echo not-the-token"],
              env=clean_env(), stdin=subprocess.DEVNULL, timeout=60)
    assert res.returncode == 1, res.stderr
    assert b"asanafs: Asana rejected the token (401 Not Authorized)" in res.stderr
    assert {k: v for k, v in emulator.stats()["requests"].items() if v} == {"GET /users/me": 1}


def test_token_file_and_token_command_together_exit_2(asanafs_bin, emulator, workdir):
    token = write_token_file(workdir / "token", E2E_TOKEN)
    res = run([asanafs_bin, "-f", str(workdir / "mnt"), "-o",
               f"api_url={emulator.api_url},cache_dir={workdir / 'cache'},token_file={token},"
               f"token_command=cat {token}"],
              env=clean_env(), stdin=subprocess.DEVNULL, timeout=60)
    assert res.returncode == 2, res.stderr
    assert b"token_file and token_command cannot be used together" in res.stderr
    assert emulator.stats()["total_api_requests"] == 0


# ---- logging ------------------------------------------------------------------------------

# Runs inside a private mount namespace whose /dev is an overlay of the real one, so the test
# can bind its own datagram socket at /dev/log (where glibc's syslog() writes) without touching
# the machine's /dev or whatever syslog daemon it has. Prints one JSON object.
SYSLOG_PROBE = textwrap.dedent("""
    import json, os, socket, subprocess, sys, time
    asanafs, mnt, options, workdir = sys.argv[1:5]
    up, work = os.path.join(workdir, "dev-up"), os.path.join(workdir, "dev-work")
    os.makedirs(up); os.makedirs(work)
    ov = subprocess.run(["mount", "-t", "overlay", "overlay", "-o",
                         f"lowerdir=/dev,upperdir={up},workdir={work}", "/dev"],
                        capture_output=True, text=True)
    if ov.returncode != 0:
        print(json.dumps({"skip": "cannot put an overlay on /dev: " + ov.stderr.strip()}))
        sys.exit(0)
    if os.path.lexists("/dev/log"):
        os.unlink("/dev/log")  # in the overlay only
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("/dev/log")
    out = {"records": []}
    def drain(until=None, deadline_s=20):
        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            sock.settimeout(max(0.05, end - time.monotonic()))
            try:
                rec = sock.recv(65536).decode(errors="replace")
            except socket.timeout:
                return
            out["records"].append(rec)
            if until and until in rec:
                return
    try:
        res = subprocess.run([asanafs, mnt, "-o", options], capture_output=True,
                             stdin=subprocess.DEVNULL, timeout=60)
        out["returncode"] = res.returncode
        out["stdout"] = res.stdout.decode(errors="replace")
        out["stderr"] = res.stderr.decode(errors="replace")
        if res.returncode == 0:
            out["listing"] = sorted(os.listdir(mnt))
            drain(until="mounted on")
            um = subprocess.run(["fusermount3", "-u", mnt], capture_output=True)
            out["unmount"] = um.returncode
            drain(until="unmounting")
    finally:
        subprocess.run(["fusermount3", "-u", "-z", mnt], capture_output=True)
    print(json.dumps(out))
""")


def can_make_private_dev():
    if os.geteuid() != 0:
        return "needs root (a private mount namespace with an overlay on /dev)"
    if shutil.which("unshare") is None:
        return "unshare(1) is not installed"
    return None


def test_daemon_mode_logs_to_syslog(asanafs_bin, emulator, world, workdir):
    """Without -f asanafs logs through syslog(3) as asanafs[PID], facility daemon, from the
    daemon's pid; the terminal gets nothing on success and the token appears nowhere."""
    reason = can_make_private_dev()
    if reason:
        pytest.skip(reason)
    token = write_token_file(workdir / "token", E2E_TOKEN)
    mnt = workdir / "mnt"
    options = (f"api_url={emulator.api_url},token_file={token},cache_dir={workdir / 'cache'},"
               "log_level=debug")
    res = run(["unshare", "--mount", "--propagation", "private", sys.executable, "-c",
               SYSLOG_PROBE, asanafs_bin, str(mnt), options, str(workdir)],
              env=clean_env(), stdin=subprocess.DEVNULL, timeout=120)
    assert res.returncode == 0, res.stderr.decode(errors="replace")
    out = json.loads(res.stdout.decode().strip().splitlines()[-1])
    if "skip" in out:
        pytest.skip(out["skip"])
    assert out["returncode"] == 0, out
    assert out["stderr"] == "" and out["stdout"] == "", out
    assert out["listing"] == top_level(world)
    assert out["unmount"] == 0, out
    records = out["records"]
    assert records, "nothing reached /dev/log"
    # <PRI>TIMESTAMP asanafs[PID]: MESSAGE; PRI = facility * 8 + severity, daemon = 3.
    parsed = []
    for rec in records:
        m = re.match(r"<(\d+)>.*? asanafs\[(\d+)\]: (.*)$", rec, re.S)
        assert m, f"not a syslog record of asanafs with its pid: {rec!r}"
        parsed.append((int(m.group(1)), int(m.group(2)), m.group(3)))
    for pri, _, text in parsed:
        assert pri >> 3 == 3, f"facility is not daemon: {pri} {text}"
    mounted = [(pri, pid) for pri, pid, text in parsed if text == f"mounted on {mnt}"]
    assert len(mounted) == 1, records
    assert mounted[0][0] & 7 == 6, "mounted on ... is not at severity info"
    daemon_pid = mounted[0][1]
    authenticated = [pid for _, pid, text in parsed if text.startswith("authenticated to ")]
    assert authenticated and authenticated[0] != daemon_pid, (
        "expected the token check before detaching and 'mounted on' from the detached daemon")
    assert any(pid == daemon_pid and text == "unmounting" for _, pid, text in parsed), records
    assert any(pri & 7 == 7 for pri, _, _ in parsed), "log_level=debug sent no debug records"
    assert not any(E2E_TOKEN in rec for rec in records)
    assert not is_mounted(mnt)


@pytest.mark.parametrize("level,present,absent", [
    ("debug", ["DEBUG", "INFO"], []),
    ("error", [], ["DEBUG", "INFO"]),
])
def test_foreground_logs_to_stderr_at_log_level(make_mount, level, present, absent):
    mnt = make_mount(options=[f"log_level={level}"])
    os.listdir(mnt.path)
    assert mnt.unmount() == 0
    log = mnt.stderr_text()
    for word in present:
        assert re.search(rf"^\S+Z asanafs {word}: ", log, re.M), f"no {word} record:\n{log}"
    for word in absent:
        assert not re.search(rf" asanafs {word}: ", log), f"{word} record at {level}:\n{log}"
    assert E2E_TOKEN not in log


# ---- uid, gid, umask, allow_other ---------------------------------------------------------


def mode_of(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


@pytest.mark.emulator("demo")
def test_uid_gid_umask_apply_to_every_entry(make_mount, world):
    mnt = make_mount(options=["uid=4321", "gid=8765", "umask=027"])
    tree = world.expected_tree()
    assert tree
    checked = {"dir": 0, "file": 0, "link": 0}
    for rel, node in [("", None), *sorted(tree.items())]:
        st = os.lstat(mnt.path / rel)
        assert (st.st_uid, st.st_gid) == (4321, 8765), rel
        if node is None or node.kind == "dir":
            assert stat.S_ISDIR(st.st_mode) and mode_of(mnt.path / rel) == 0o750, rel
            checked["dir"] += 1
        elif node.kind_detail == "link":
            assert mode_of(mnt.path / rel) == 0o440, rel  # .url files are read-only
            checked["link"] += 1
        else:
            assert mode_of(mnt.path / rel) == 0o640, rel
            checked["file"] += 1
    assert all(checked.values()), checked


def test_default_owner_and_modes(mount, world):
    rel_file = next(rel for rel, n in sorted(world.expected_tree().items())
                    if n.kind_detail == "attachment")
    st = os.lstat(mount.path)
    assert (st.st_uid, st.st_gid) == (os.getuid(), os.getgid())
    assert mode_of(mount.path) == 0o755
    assert mode_of(mount.path / rel_file) == 0o644


@pytest.mark.parametrize("bad,message", [
    ("uid=-5", "uid must be a user ID or name, not '-5'"),
    ("gid=no-such-group-xyz", "gid must be a group ID or name, not 'no-such-group-xyz'"),
    ("umask=0888", "umask must be octal, 000 to 777, not '0888'"),
    ("poll_interval=-1", "poll_interval must be 0 (off) or more seconds"),
])
def test_bad_option_values_exit_2_before_any_request(asanafs_bin, emulator, workdir, bad, message):
    token = write_token_file(workdir / "token", E2E_TOKEN)
    res = run([asanafs_bin, "-f", str(workdir / "mnt"), "-o",
               f"api_url={emulator.api_url},cache_dir={workdir / 'cache'},token_file={token},{bad}"],
              env=clean_env(), stdin=subprocess.DEVNULL, timeout=60)
    assert res.returncode == 2, res.stderr
    assert res.stderr.decode().strip().splitlines()[-1] == "asanafs: " + message
    assert emulator.stats()["total_api_requests"] == 0


def as_other_user(*cmd, cwd):
    # Started in `cwd` (inside the mount) so the other user needs no access to the
    # test's private temporary directories above it.
    return run(["setpriv", "--reuid=4321", "--regid=4321", "--clear-groups", *cmd], cwd=cwd)


@pytest.mark.parametrize("allow_other", [True, False], ids=["allow_other", "default"])
def test_allow_other_lets_another_user_in(make_mount, world, allow_other):
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv(1) to act as another user")
    mnt = make_mount(options=["allow_other"] if allow_other else [])
    assert ("allow_other" in mountinfo(mnt.path)[2].split(",")) == allow_other
    res = as_other_user("ls", "-1", ".", cwd=mnt.path)
    if allow_other:
        assert res.returncode == 0, res.stderr
        assert sorted(res.stdout.decode().splitlines()) == top_level(world)
    else:
        assert res.returncode != 0, "another user could list a mount without allow_other"
        assert b"Permission denied" in res.stderr


# ---- config file --------------------------------------------------------------------------


def test_config_file_supplies_options_and_the_command_line_overrides(make_mount, world, tmp_path):
    """$XDG_CONFIG_HOME/asanafs/config: one option a line; -o on the command line wins."""
    mnt = make_mount(start=False)
    config_home = tmp_path / "xdg-config"
    (config_home / "asanafs").mkdir(parents=True)
    lines = ["# asanafs options, one a line", ""]
    lines += [o for o in mnt.options]  # api_url, token_file, cache_dir
    lines += ["uid=4321", "gid=4321", "umask=077"]
    (config_home / "asanafs" / "config").write_text("\n".join(lines) + "\n")
    mnt.options = ["gid=99"]  # everything else comes from the config file
    mnt.env = clean_env(XDG_CONFIG_HOME=str(config_home))
    mnt.start()
    assert sorted(os.listdir(mnt.path)) == top_level(world)
    st = os.lstat(mnt.path / top_level(world)[0])
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (4321, 99, 0o700)


def test_bad_config_file_exits_2(asanafs_bin, emulator, workdir):
    config_home = workdir / "xdg-config"
    (config_home / "asanafs").mkdir(parents=True)
    (config_home / "asanafs" / "config").write_text("-o timeout=5\n")
    res = run([asanafs_bin, "-f", str(workdir / "mnt")],
              env=clean_env(XDG_CONFIG_HOME=str(config_home)), stdin=subprocess.DEVNULL)
    assert res.returncode == 2, res.stderr
    assert res.stderr.decode().strip().splitlines()[-1] == (
        f"asanafs: config file {config_home}/asanafs/config line 1: "
        "write options without -o, one a line")
    assert emulator.stats()["total_api_requests"] == 0


def test_default_permissions_enforces_uid_gid_umask_for_other_users(make_mount, world):
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv(1) to act as another user")
    owner = make_mount(options=["allow_other", "default_permissions", "uid=4321", "umask=077"])
    stranger = make_mount(options=["allow_other", "default_permissions", "uid=1234", "umask=077"])
    res = as_other_user("ls", "-1", ".", cwd=owner.path)  # runs as uid 4321: the owner
    assert res.returncode == 0, res.stderr
    assert sorted(res.stdout.decode().splitlines()) == top_level(world)
    res = as_other_user("ls", "-1", ".", cwd=stranger.path)  # mode 0700, owned by 1234
    assert res.returncode != 0, "the kernel let a user through a 0700 directory it does not own"
    assert b"Permission denied" in res.stderr


def test_daemon_mode_takes_relative_paths_from_the_starting_directory(asanafs_bin, emulator,
                                                                      world, workdir):
    """The daemon changes to "/" after mounting: `-o cache_dir=cache,token_file=token` given
    relative to the directory asanafs was started in still work, so a file copied in is
    staged under that cache directory and lands (it used to fail with ENOENT)."""
    write_token_file(workdir / "token", E2E_TOKEN)
    res = run([asanafs_bin, "mnt", "-o",
               f"api_url={emulator.api_url},token_file=token,cache_dir=cache"],
              cwd=workdir, env=clean_env(), stdin=subprocess.DEVNULL, timeout=60)
    assert res.returncode == 0, res.stderr.decode(errors="replace")
    mnt = workdir / "mnt"
    try:
        task = next(rel for rel, n in sorted(world.expected_tree().items())
                    if n.kind_detail == "task")
        src = workdir / "relative.txt"
        src.write_bytes(b"staged under ./cache\n")
        emulator.reset_stats()
        cp = run(["cp", str(src), str(mnt / task / "relative.txt")])
        assert cp.returncode == 0, cp.stderr.decode(errors="replace")
        assert (mnt / task / "relative.txt").read_bytes() == b"staged under ./cache\n"
        assert emulator.stats()["uploads"] == 1
        assert (workdir / "cache" / "state.db").exists(), "the cache is not where it was asked"
        assert not pathlib.Path("/cache").exists(), "the daemon resolved cache_dir against /"
    finally:
        unmount_daemon(mnt)
