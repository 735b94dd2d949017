"""Fixtures for the conformance suite (test layer).

Starts the real emulator (`small` seed, binary from $ASANA_EMULATOR) and a
Stoplight Prism proxy (`prism proxy --errors`) in front of it, fed with a copy
of the official spec whose paths carry the /api/1.0 prefix. Everything listens
on 127.0.0.1 only. Missing tools make the suite fail, never skip: a skipped
conformance check would read as a pass.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO / "tests" / "emulator"))

import spec_tools  # noqa: E402

PRISM_BIN = HERE / "node_modules" / ".bin" / "prism"
ASANA_PKG = HERE / "node_modules" / "asana" / "package.json"
PRISM_START_DEADLINE_S = 90


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Reply:
    def __init__(self, status, headers, raw):
        self.status = status
        self.headers = {k.lower(): v for k, v in headers.items()}
        self.raw = raw
        try:
            self.json = json.loads(raw.decode("utf-8")) if raw else None
        except (UnicodeDecodeError, json.JSONDecodeError):
            self.json = None

    def violations(self):
        value = self.headers.get("sl-violations")
        if not value:
            return []
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return [{"message": value}]  # Prism truncated a huge list

    def __repr__(self):
        return "Reply(%d, %s)" % (self.status, self.raw[:600])


# Loopback only: ignore any http_proxy in the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http(method, url, token=None, body=None, headers=None, timeout=30):
    hdrs = dict(headers or {})
    if token is not None:
        hdrs["Authorization"] = "Bearer " + token
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode("utf-8")
        hdrs.setdefault("Content-Type", "application/json")
    req = urllib.request.Request(url, data=body, method=method, headers=hdrs)
    try:
        with _OPENER.open(req, timeout=timeout) as resp:
            return Reply(resp.status, dict(resp.headers), resp.read())
    except urllib.error.HTTPError as e:
        return Reply(e.code, dict(e.headers), e.read())


class Prism:
    """One `prism proxy --errors` process with its own prefixed spec copy."""

    def __init__(self, spec_src, upstream, workdir):
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        workdir = Path(workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        self.spec_path = workdir / "asana_oas_prefixed.yaml"
        n = spec_tools.write_prefixed_spec(spec_src, self.spec_path, self.url)
        assert n > 100, "prefixed only %d paths; spec layout changed?" % n
        self.log_path = workdir / "prism.log"
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [str(PRISM_BIN), "proxy", "--errors", "-h", "127.0.0.1",
             "-p", str(self.port), str(self.spec_path), upstream],
            stdout=self._log, stderr=subprocess.STDOUT, cwd=str(HERE),
            env=dict(os.environ, NO_COLOR="1", FORCE_COLOR="0"))
        deadline = time.monotonic() + PRISM_START_DEADLINE_S
        while b"Prism is listening" not in self.log_path.read_bytes():
            if self.proc.poll() is not None:
                raise RuntimeError("prism exited (%s):\n%s" %
                                   (self.proc.returncode, self.log_tail()))
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("prism did not start:\n" + self.log_tail())
            time.sleep(0.2)

    def log_tail(self, n=4000):
        return self.log_path.read_bytes()[-n:].decode("utf-8", "replace")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log.close()


@pytest.fixture(scope="session")
def node_modules():
    """Prism and the official client; installs them (npm ci) when missing."""
    if not (PRISM_BIN.exists() and ASANA_PKG.exists()):
        npm = shutil.which("npm")
        assert npm, "npm not found: the conformance suite needs node + npm"
        proc = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"], cwd=str(HERE),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=900)
        assert proc.returncode == 0, (
            "npm ci failed; the conformance tools are required:\n" +
            proc.stdout.decode("utf-8", "replace")[-4000:])
    assert PRISM_BIN.exists(), "npm ci did not install prism"
    assert ASANA_PKG.exists(), "npm ci did not install the asana client"
    return HERE / "node_modules"


@pytest.fixture(scope="session")
def spec_src():
    path = Path(os.environ.get("ASANA_OAS_SPEC") or spec_tools.locate_spec(REPO))
    assert path.is_file(), "official spec not found at %s" % path
    return path


@pytest.fixture(scope="session")
def spec(spec_src):
    return spec_tools.Spec(spec_src)


@pytest.fixture(scope="session")
def emulator_binary():
    binary = os.environ.get("ASANA_EMULATOR")
    assert binary, "ASANA_EMULATOR is not set (run through meson test)"
    assert os.access(binary, os.X_OK), "not executable: %s" % binary
    return binary


@pytest.fixture(scope="session")
def emulator(emulator_binary, tmp_path_factory):
    from emulator import Emulator
    emu = Emulator(emulator_binary, seed="small",
                   state_dir=str(tmp_path_factory.mktemp("emu-state")))
    emu.start()
    yield emu
    emu.stop()


@pytest.fixture(scope="session")
def prism(node_modules, spec_src, emulator, tmp_path_factory):
    p = Prism(spec_src, emulator.base_url, tmp_path_factory.mktemp("prism"))
    yield p
    p.stop()


class _BadUpstream(BaseHTTPRequestHandler):
    """Answers every GET with a spec-violating attachment record."""

    def do_GET(self):  # noqa: N802 (http.server naming)
        body = json.dumps({"data": {
            "gid": 12345,  # the spec says string
            "resource_type": "attachment", "name": "x",
            "created_at": "yesterday",  # not a date-time
        }}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="session")
def prism_on_bad_upstream(node_modules, spec_src, tmp_path_factory):
    """A second Prism in front of a deliberately wrong server (self-check)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _BadUpstream)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    upstream = "http://127.0.0.1:%d" % server.server_address[1]
    p = Prism(spec_src, upstream, tmp_path_factory.mktemp("prism-bad"))
    yield p
    p.stop()
    server.shutdown()
    server.server_close()
