"""Fixtures for the asanafs end-to-end tests: a fresh emulator and a real mount per test.

Harness rules (after libfuse's test/conftest.py): wait for the mount with a
deadline and fail at once if the daemon exited; unmount with `fusermount3 -u`
(then `-z`) and require the daemon to exit 0; fail the test on ERROR/WARNING
lines in the daemon's output unless the test allows them; show the daemon's
stderr and a reproducer when a test fails. Every test gets its own directories.

Binaries come from the environment: ASANAFS_BIN and ASANA_EMULATOR.
"""

import os
import pathlib
import re
import shlex
import subprocess
import sys
import time

import pytest

SOURCE_ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(SOURCE_ROOT / "tests" / "emulator"))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from emulator import Emulator  # noqa: E402  (the emulator helper's Python launcher)

MOUNT_DEADLINE_S = 20
EXIT_DEADLINE_S = 20
E2E_TOKEN = "e2e-token-5f1d0c3a9b"  # distinctive, so tests can grep logs for leaks

# Daemon output that fails a test unless the test allows it.
SUSPICIOUS = re.compile(
    r"\b(ERROR|WARNING|CRITICAL|FATAL)\b|exception|[Aa]bort|Sanitizer|runtime error|"
    r"^fuse: |[Ss]egmentation fault|terminate called", re.MULTILINE)


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "emulator(seed='small', **kwargs): arguments for the Emulator of this test")
    config.addinivalue_line(
        "markers", "mount_options(*opts): extra -o options for the mount fixture")


def binary(var):
    path = os.environ.get(var)
    if not path:
        pytest.fail(f"environment variable {var} is not set (run through meson test)")
    if not os.access(path, os.X_OK):
        pytest.fail(f"{var}={path} is not an executable")
    return path


def fuse_available():
    """Returns None when a FUSE mount can work here, else the reason it cannot."""
    if not os.path.exists("/dev/fuse"):
        return "/dev/fuse does not exist"
    return None


@pytest.fixture(autouse=True)
def _require_fuse():
    reason = fuse_available()
    if reason:
        pytest.skip(reason)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for mount in getattr(item, "_asanafs_mounts", []):
            report.sections.append((f"asanafs stderr ({mount.mountpoint})", mount.stderr_text()))
            report.sections.append(("reproducer", mount.reproducer()))


def is_mounted(path):
    """True if `path` is a mount point according to /proc/self/mountinfo."""
    target = os.path.realpath(path)
    with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            fields = line.split(" ")
            mount_point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[4])
            if mount_point == target:
                return True
    return False


def write_token_file(path, token, mode=0o600):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, (token + "\n").encode())
        os.fchmod(fd, mode)
    finally:
        os.close(fd)
    return path


class Mount:
    """One asanafs daemon running in the foreground (-f) on its own mountpoint."""

    def __init__(self, asanafs, workdir, emulator, token=E2E_TOKEN, options=(), env=None,
                 name="mnt"):
        self.asanafs = asanafs
        self.workdir = pathlib.Path(workdir)
        self.emulator = emulator
        self.mountpoint = self.workdir / name
        self.mountpoint.mkdir(parents=True, exist_ok=True)
        self.token_file = write_token_file(self.workdir / f"{name}.token", token)
        self.cache_dir = self.workdir / f"{name}.cache"
        self.stderr_path = self.workdir / f"{name}.stderr"
        self.options = [f"api_url={emulator.api_url}", f"token_file={self.token_file}",
                        f"cache_dir={self.cache_dir}", *options]
        self.env = env
        self.allowed = []  # regexes of daemon output lines this test expects
        self.proc = None
        self.returncode = None
        self.started_at = self.mounted_at = None

    @property
    def path(self):
        return self.mountpoint

    def command(self):
        return [self.asanafs, "-f", str(self.mountpoint), "-o", ",".join(self.options)]

    def reproducer(self):
        emu = " ".join(shlex.quote(a) for a in getattr(self.emulator, "command", []) or [])
        lines = []
        if emu:
            lines.append(f"# emulator: {emu}")
        lines.append(" ".join(shlex.quote(str(a)) for a in self.command()))
        return "\n".join(lines)

    def allow(self, pattern):
        """Lets lines matching `pattern` pass the suspicious-output check."""
        self.allowed.append(re.compile(pattern))

    def stderr_text(self):
        try:
            return self.stderr_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def start(self):
        self.started_at = time.time()
        with open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL,
                                         stdout=err, stderr=err, env=self.env)
        deadline = time.monotonic() + MOUNT_DEADLINE_S
        while not is_mounted(self.mountpoint):
            code = self.proc.poll()
            if code is not None:
                pytest.fail(f"asanafs exited with {code} before mounting:\n{self.stderr_text()}")
            if time.monotonic() > deadline:
                self.proc.kill()
                self.proc.wait()
                pytest.fail(f"{self.mountpoint} not mounted after {MOUNT_DEADLINE_S} s:\n"
                            f"{self.stderr_text()}")
            time.sleep(0.05)
        self.mounted_at = time.time()
        return self

    def unmount(self):
        """Unmounts and returns the daemon's exit code (None if it had to be killed)."""
        if self.proc is None or self.returncode is not None:
            return self.returncode
        if is_mounted(self.mountpoint):
            res = subprocess.run(["fusermount3", "-u", str(self.mountpoint)],
                                 capture_output=True, text=True)
            if res.returncode != 0:
                subprocess.run(["fusermount3", "-u", "-z", str(self.mountpoint)],
                               capture_output=True, text=True)
        try:
            self.returncode = self.proc.wait(timeout=EXIT_DEADLINE_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            self.returncode = None
        return self.returncode

    def suspicious_lines(self):
        bad = []
        for line in self.stderr_text().splitlines():
            if SUSPICIOUS.search(line) and not any(p.search(line) for p in self.allowed):
                bad.append(line)
        return bad

    def check_clean_exit(self):
        """Teardown checks: unmounted, exit 0, no unexpected ERROR/WARNING output."""
        code = self.unmount()
        problems = []
        if is_mounted(self.mountpoint):
            problems.append(f"{self.mountpoint} is still mounted")
        if code != 0:
            problems.append(f"asanafs exited with {code} after unmount (expected 0)")
        bad = self.suspicious_lines()
        if bad:
            problems.append("unexpected daemon output:\n  " + "\n  ".join(bad))
        if problems:
            pytest.fail("\n".join(problems) + f"\n--- asanafs stderr ---\n{self.stderr_text()}")


@pytest.fixture
def asanafs_bin():
    return binary("ASANAFS_BIN")


@pytest.fixture
def emulator_bin():
    return binary("ASANA_EMULATOR")


@pytest.fixture
def make_emulator(emulator_bin, tmp_path):
    """Factory for extra emulators in one test; each gets a fresh state dir and is stopped after."""
    started = []

    def make(seed="small", token=E2E_TOKEN, **kwargs):
        state_dir = tmp_path / f"emulator-state-{len(started)}"
        emu = Emulator(emulator_bin, seed=seed, state_dir=str(state_dir), token=token, **kwargs)
        emu.start()
        started.append(emu)
        return emu

    yield make
    for emu in reversed(started):
        emu.stop()


@pytest.fixture
def emulator(request, make_emulator):
    """A fresh emulator (seed `small`, or as @pytest.mark.emulator(...) says)."""
    marker = request.node.get_closest_marker("emulator")
    kwargs = dict(marker.kwargs) if marker else {}
    if marker and marker.args:
        kwargs.setdefault("seed", marker.args[0])
    return make_emulator(**kwargs)


@pytest.fixture
def make_mount(request, asanafs_bin, emulator, tmp_path):
    """Factory for mounts of `emulator`; each is unmounted and checked after the test."""
    mounts = []
    request.node._asanafs_mounts = mounts

    def make(options=(), emu=None, name=None, start=True, **kwargs):
        mnt = Mount(asanafs_bin, tmp_path, emu or emulator, options=options,
                    name=name or f"mnt{len(mounts)}", **kwargs)
        mounts.append(mnt)
        if start:
            mnt.start()
        return mnt

    yield make
    failures = []
    for mnt in mounts:
        try:
            mnt.check_clean_exit()
        except pytest.fail.Exception as e:  # report every mount, not just the first
            failures.append(str(e))
    if failures:
        pytest.fail("\n\n".join(failures))


@pytest.fixture
def mount(request, make_mount):
    """A mounted asanafs over `emulator` (extra -o options via @pytest.mark.mount_options)."""
    marker = request.node.get_closest_marker("mount_options")
    return make_mount(options=marker.args if marker else ())


@pytest.fixture
def world(emulator):
    from asana_tree import World
    return World(emulator.state())


def run(cmd, timeout=120, **kwargs):
    """Runs a real tool; fails the test (not hangs) on timeout."""
    try:
        return subprocess.run(cmd, capture_output=True, timeout=timeout, **kwargs)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{cmd!r} did not finish within {timeout} s")
