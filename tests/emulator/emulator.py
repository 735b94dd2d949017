"""Python launcher and client for the Asana emulator (test layer, standard library only).

Test suites (tests/emulator, tests/e2e, tests/conformance) put this directory on
sys.path and use `Emulator` as a context manager:

    with Emulator(os.environ["ASANA_EMULATOR"], seed="small") as emu:
        status, body = emu.api_get("/workspaces")
        emu.stats()["requests"]["GET /workspaces"]

Only loopback is ever contacted; any http_proxy in the environment is ignored.
"""

import json
import os
import select
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

START_DEADLINE_S = 20
STOP_DEADLINE_S = 20

# Loopback only: never route through a proxy from the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class EmulatorError(RuntimeError):
    pass


def http_request(method, url, body=None, headers=None, timeout=60):
    """Returns (status, headers dict with lower-case keys, raw body bytes); never raises on HTTP errors."""
    req = urllib.request.Request(url, data=body, method=method, headers=dict(headers or {}))
    try:
        with _OPENER.open(req, timeout=timeout) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as e:
        try:
            raw = e.read()
        except Exception:  # the server may have closed the connection mid-body
            raw = b""
        return e.code, {k.lower(): v for k, v in e.headers.items()}, raw


class Emulator:
    """One asana-emulator process listening on a free loopback port."""

    def __init__(self, binary, seed="small", state_dir=None, token="emulator-token", url_ttl_s=None,
                 latency_ms=None, faults=None, extra_args=()):
        self.binary = binary
        self.seed = seed
        self.token = token
        self.url_ttl_s = url_ttl_s
        self.latency_ms = latency_ms
        self.faults = faults
        self.extra_args = list(extra_args)
        self._own_state_dir = state_dir is None
        self.state_dir = state_dir
        self.proc = None
        self.port = None
        self.api_url = None
        self.base_url = None
        self.command = []
        self._stderr_file = None
        self.stderr_path = None
        self.returncode = None

    # ---- lifecycle -------------------------------------------------------

    def _build_command(self):
        cmd = [self.binary, "--port", "0", "--state", str(self.state_dir), "--seed", str(self.seed),
               "--token", self.token]
        if self.url_ttl_s is not None:
            cmd += ["--url-ttl-s", str(self.url_ttl_s)]
        if self.latency_ms is not None:
            cmd += ["--latency-ms", str(self.latency_ms)]
        if self.faults:
            cmd += ["--faults", self.faults]
        cmd += [str(a) for a in self.extra_args]
        return cmd

    def start(self):
        """Spawns the emulator and waits for its READY line; raises with its stderr if it dies."""
        if self.proc is not None and self.proc.poll() is None:
            raise EmulatorError("emulator already running")
        if self.state_dir is None:
            self.state_dir = tempfile.mkdtemp(prefix="asana-emu-")
        os.makedirs(self.state_dir, exist_ok=True)
        self.command = self._build_command()
        self.stderr_path = os.path.join(str(self.state_dir), "emulator.stderr")
        self._stderr_file = open(self.stderr_path, "ab")
        self.returncode = None
        self.proc = subprocess.Popen(self.command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=self._stderr_file)
        deadline = time.monotonic() + START_DEADLINE_S
        line = b""
        fd = self.proc.stdout.fileno()
        while not line.endswith(b"\n"):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._kill()
                raise EmulatorError(f"emulator not ready after {START_DEADLINE_S} s:\n"
                                    f"{self.stderr_text()}")
            ready, _, _ = select.select([fd], [], [], min(remaining, 0.2))
            if ready:
                chunk = os.read(fd, 1)
                if not chunk:  # EOF: the process exited
                    code = self.proc.wait()
                    raise EmulatorError(f"emulator exited with {code} before READY:\n"
                                        f"{self.stderr_text()}")
                line += chunk
        text = line.decode("utf-8", "replace").strip()
        prefix = "READY "
        if not text.startswith(prefix):
            self._kill()
            raise EmulatorError(f"unexpected first line {text!r}:\n{self.stderr_text()}")
        self.api_url = text[len(prefix):]
        parsed = urllib.parse.urlsplit(self.api_url)
        self.port = parsed.port
        self.base_url = f"{parsed.scheme}://{parsed.netloc}"
        return self

    def _kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._close_files()

    def _close_files(self):
        if self.proc and self.proc.stdout:
            self.proc.stdout.close()
        if self._stderr_file:
            self._stderr_file.close()
            self._stderr_file = None

    def stop(self):
        """SIGTERM, wait, and assert a clean exit (status 0)."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_DEADLINE_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self._close_files()
                raise AssertionError(f"emulator ignored SIGTERM for {STOP_DEADLINE_S} s:\n"
                                     f"{self.stderr_text()}")
        self.returncode = self.proc.returncode
        self._close_files()
        self.proc = None
        if self._own_state_dir and self.state_dir:
            shutil.rmtree(self.state_dir, ignore_errors=True)
            self.state_dir = None
        assert self.returncode == 0, f"emulator exited with {self.returncode}"

    def restart(self):
        """Stops and starts again on the same state dir (the port may change)."""
        own = self._own_state_dir
        self._own_state_dir = False  # keep the state across the restart
        try:
            self.stop()
        finally:
            self._own_state_dir = own
        return self.start()

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stderr_text(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except (OSError, TypeError):
            return ""

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    # ---- HTTP helpers ----------------------------------------------------

    def request(self, method, url_or_path, body=None, headers=None, timeout=60):
        """Raw request; a path starting with '/' is taken relative to base_url."""
        url = url_or_path if "://" in url_or_path else self.base_url + url_or_path
        return http_request(method, url, body=body, headers=headers, timeout=timeout)

    def _control(self, method, path, body=None, headers=None):
        status, _, raw = self.request(method, "/_control" + path, body=body, headers=headers)
        if status >= 300:
            raise EmulatorError(f"{method} /_control{path} -> {status}: {raw[:500]!r}")
        return raw

    def api_request(self, method, path, body=None, token=None, headers=None, timeout=60):
        """Request under /api/1.0 with the bearer token; returns (status, parsed JSON or None)."""
        hdrs = {"Authorization": "Bearer " + (token if token is not None else self.token)}
        hdrs.update(headers or {})
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode("utf-8")
            hdrs.setdefault("Content-Type", "application/json")
        status, _, raw = self.request(method, self.api_url + path, body=body, headers=hdrs,
                                      timeout=timeout)
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        return status, parsed

    def api_get(self, path, token=None):
        """GET under /api/1.0 (path like '/workspaces?limit=5'); returns (status, parsed JSON)."""
        return self.api_request("GET", path, token=token)

    def upload(self, parent, filename, data, content_type="application/octet-stream", token=None):
        """POST /attachments as multipart/form-data; filename is sent URL-encoded as the spec asks."""
        boundary = "----asanaemu" + os.urandom(8).hex()
        enc = urllib.parse.quote(filename, safe="")
        parts = [
            (f'--{boundary}\r\nContent-Disposition: form-data; name="parent"\r\n\r\n{parent}\r\n'
             ).encode(),
            (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{enc}"; '
             f"filename*=UTF-8''{enc}\r\nContent-Type: {content_type}\r\n\r\n").encode(),
            data, f"\r\n--{boundary}--\r\n".encode(),
        ]
        return self.api_request("POST", "/attachments", body=b"".join(parts), token=token,
                                headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})

    # ---- control API -----------------------------------------------------

    def stats(self):
        return json.loads(self._control("GET", "/stats"))

    def reset_stats(self):
        self._control("POST", "/reset_stats")

    def set_faults(self, spec):
        self._control("POST", "/faults", body=(spec or "").encode("utf-8"),
                      headers={"Content-Type": "text/plain"})

    def state(self):
        return json.loads(self._control("GET", "/state"))

    def content(self, gid):
        return self._control("GET", f"/content/{gid}")

    def add_object(self, obj):
        raw = self._control("POST", "/objects", body=json.dumps(obj).encode("utf-8"),
                            headers={"Content-Type": "application/json"})
        return json.loads(raw)["gid"]

    def delete_object(self, gid):
        self._control("DELETE", f"/objects/{gid}")

    def expire_sync_tokens(self):
        """Every Events API sync token issued so far gets 412 from now on."""
        self._control("POST", "/expire_sync")
