"""Contract tests for the Asana emulator: drive it over HTTP and check what the suites rely on.

The binary comes from $ASANA_EMULATOR (meson test sets it). Field sets follow the official
spec's schemas (AttachmentCompact, TaskCompact, ...); see README.md in this directory.
"""

import base64
import hashlib
import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.parse

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from emulator import Emulator, EmulatorError, http_request  # noqa: E402

TOKEN = "emulator-token"
MISSING = "9999999999999999"


@pytest.fixture(scope="session")
def binary():
    path = os.environ.get("ASANA_EMULATOR")
    if not path:
        pytest.fail("ASANA_EMULATOR is not set (run through meson test)")
    assert os.access(path, os.X_OK), path
    return path


@pytest.fixture(scope="module")
def emu(binary, tmp_path_factory):
    """A shared `small` emulator for read-only tests."""
    e = Emulator(binary, seed="small", state_dir=str(tmp_path_factory.mktemp("shared")))
    e.start()
    yield e
    e.stop()


@pytest.fixture
def fresh(binary, tmp_path):
    """A private emulator per test (for writes, faults and stats)."""
    started = []

    def make(**kwargs):
        kwargs.setdefault("seed", "small")
        kwargs.setdefault("state_dir", str(tmp_path / f"state{len(started)}"))
        e = Emulator(binary, **kwargs)
        e.start()
        started.append(e)
        return e

    yield make
    for e in reversed(started):
        if e.running():
            e.stop()


@pytest.fixture(scope="module")
def world(emu):
    return emu.state()


def by_name(items, name):
    found = [x for x in items if x["name"] == name]
    assert found, f"no {name!r} in {[x['name'] for x in items]}"
    return found[0]


def attachments_of(world, parent):
    return [a for a in world["attachments"] if a["parent"] == parent]


def walk(emu, path, limit, extra=""):
    """Follows next_page to the end; returns (items, pages)."""
    items, pages = [], 0
    sep = "&" if "?" in path else "?"
    url = f"{path}{sep}limit={limit}{extra}"
    while True:
        status, body = emu.api_get(url)
        assert status == 200, (url, body)
        pages += 1
        assert "next_page" in body
        items += body["data"]
        assert len(body["data"]) <= limit
        nxt = body["next_page"]
        if nxt is None:
            return items, pages
        assert set(nxt) == {"offset", "path", "uri"}
        assert nxt["uri"] == emu.api_url + nxt["path"]
        url = nxt["path"]
        assert pages < 100


# ---- process and command line ------------------------------------------------------------


def test_ready_line_and_loopback_only(emu):
    assert emu.api_url.startswith("http://127.0.0.1:") and emu.api_url.endswith("/api/1.0")
    assert emu.base_url + "/api/1.0" == emu.api_url
    listening = [line for line in open("/proc/net/tcp").read().splitlines()[1:]
                 if line.split()[1].endswith(":%04X" % emu.port) and line.split()[3] == "0A"]
    assert listening and all(line.split()[1].startswith("0100007F:") for line in listening)


@pytest.mark.parametrize("args,message", [
    (["--port", "0", "--seed", "small"], "--state"),
    (["--port", "0", "--state", "{tmp}", "--seed", "nonsense"], "unknown seed"),
    (["--port", "0", "--state", "{tmp}", "--seed", "small", "--faults", "418"], "fault kind"),
    (["--port", "x", "--state", "{tmp}", "--seed", "small"], "--port"),
])
def test_bad_command_lines_fail_with_a_message(binary, tmp_path, args, message):
    args = [a.replace("{tmp}", str(tmp_path / "s")) for a in args]
    res = subprocess.run([binary, *args], capture_output=True, timeout=30)
    assert res.returncode != 0
    assert message in res.stderr.decode()
    assert b"READY" not in res.stdout


def test_sigterm_and_sigint_exit_zero(fresh):
    e = fresh()
    e.stop()  # SIGTERM; stop() asserts exit status 0
    e2 = fresh()
    e2.proc.send_signal(2)
    assert e2.proc.wait(timeout=20) == 0


# ---- authentication and envelopes --------------------------------------------------------


@pytest.mark.parametrize("path", ["/users/me", "/workspaces", "/attachments?parent=1",
                                  "/tasks/" + MISSING, "/no/such/route"])
@pytest.mark.parametrize("token", [None, "wrong-token"])
def test_every_api_route_needs_the_token(emu, path, token):
    headers = {} if token is None else {"Authorization": "Bearer " + token}
    status, hdrs, raw = http_request("GET", emu.api_url + path, headers=headers)
    assert status == 401
    assert hdrs["content-type"].startswith("application/json")
    assert json.loads(raw) == {"errors": [{"message": "Not Authorized"}]}


def test_custom_token(fresh):
    e = fresh(token="s3cret")
    assert e.api_get("/users/me")[0] == 200
    assert e.api_get("/users/me", token=TOKEN)[0] == 401


def test_users_me(emu, world):
    status, body = emu.api_get("/users/me")
    assert status == 200
    me = body["data"]
    assert set(me) == {"gid", "resource_type", "name", "email", "photo", "workspaces"}
    assert me["resource_type"] == "user"
    assert [w["gid"] for w in me["workspaces"]] == [w["gid"] for w in world["workspaces"]]
    assert all(set(w) == {"gid", "resource_type", "name"} for w in me["workspaces"])
    status, body = emu.api_get("/users/me?opt_fields=workspaces.name")
    assert body["data"]["workspaces"][0] == {"gid": world["workspaces"][0]["gid"],
                                             "name": world["workspaces"][0]["name"]}
    assert set(body["data"]) == {"gid", "workspaces"}


def test_compact_records_by_default(emu, world):
    status, body = emu.api_get("/workspaces")
    assert status == 200 and set(body) == {"data"}  # no next_page without limit
    assert [set(w) for w in body["data"]] == [{"gid", "resource_type", "name"}] * 2
    ws = world["workspaces"][0]["gid"]
    status, body = emu.api_get(f"/workspaces/{ws}/projects")
    assert all(set(p) == {"gid", "resource_type", "name"} for p in body["data"])
    assert all(p["resource_type"] == "project" for p in body["data"])
    design = by_name(world["projects"], "Design / Marketing")["gid"]
    status, body = emu.api_get(f"/projects/{design}/tasks")
    # TaskCompact without the "[Opt In]" created_by.
    assert all(set(t) == {"gid", "resource_type", "name", "resource_subtype"} for t in body["data"])
    logo = by_name(world["tasks"], "Logo refresh")["gid"]
    status, body = emu.api_get(f"/attachments?parent={logo}")
    assert status == 200
    assert len(body["data"]) == len(attachments_of(world, logo)) == 5
    for a in body["data"]:
        assert set(a) == {"gid", "resource_type", "name", "resource_subtype"}
        assert a["resource_type"] == "attachment" and a["gid"].isdigit()


def test_full_records_of_single_gets(emu, world):
    logo = by_name(world["tasks"], "Logo refresh")
    status, body = emu.api_get(f"/tasks/{logo['gid']}")
    t = body["data"]
    assert status == 200 and t["gid"] == logo["gid"] and t["name"] == "Logo refresh"
    assert t["created_at"] == logo["created_at"] and t["modified_at"] == logo["modified_at"]
    assert t["parent"] is None and t["permalink_url"].startswith("https://")
    assert [p["gid"] for p in t["projects"]] == logo["projects"]
    assert "num_subtasks" not in t and "created_by" not in t  # "[Opt In]" fields
    palette = by_name(world["tasks"], "Color palette")
    t = emu.api_get(f"/tasks/{palette['gid']}")[1]["data"]
    assert t["parent"] == {"gid": logo["gid"], "resource_type": "task", "name": "Logo refresh",
                           "resource_subtype": "default_task"}
    p = world["projects"][0]
    rec = emu.api_get(f"/projects/{p['gid']}")[1]["data"]
    assert rec["name"] == p["name"] and rec["workspace"]["gid"] == p["workspace"]
    assert "html_notes" not in rec
    w = world["workspaces"][1]
    rec = emu.api_get(f"/workspaces/{w['gid']}")[1]["data"]
    assert rec["name"] == w["name"] and rec["resource_type"] == "workspace"


def test_attachment_records(emu, world):
    for a in world["attachments"]:
        status, body = emu.api_get(f"/attachments/{a['gid']}")
        assert status == 200
        rec = body["data"]
        assert rec["name"] == a["name"] and rec["created_at"] == a["created_at"]
        assert rec["host"] == rec["resource_subtype"] == a["host"]
        assert rec["parent"]["gid"] == a["parent"]
        assert rec["view_url"] == a["view_url"]
        if a["host"] == "asana":
            assert rec["size"] == a["size"]
            assert rec["download_url"].startswith(emu.base_url + "/_blobs/" + a["gid"] + "?")
            assert "connected_to_app" not in rec
        else:
            assert "size" not in rec and rec["download_url"] is None
            assert rec["view_url"].startswith("https://drive.google.com/")


def test_opt_fields_give_gid_plus_exactly_the_fields(emu, world):
    fields = "name,created_at,modified_at,permalink_url,num_subtasks,parent"
    logo = by_name(world["tasks"], "Logo refresh")
    t = emu.api_get(f"/tasks/{logo['gid']}?opt_fields={fields}")[1]["data"]
    assert set(t) == {"gid"} | set(fields.split(","))
    assert t["num_subtasks"] == 1 and t["parent"] is None
    design = by_name(world["projects"], "Design / Marketing")["gid"]
    for t in emu.api_get(f"/projects/{design}/tasks?opt_fields={fields}")[1]["data"]:
        assert set(t) == {"gid"} | set(fields.split(","))
    afields = ("name,resource_subtype,host,size,created_at,download_url,view_url,"
               "permanent_url,parent")
    video = by_name(world["tasks"], "Launch video")["gid"]
    recs = emu.api_get(f"/attachments?parent={video}&opt_fields={afields}")[1]["data"]
    assert len(recs) == 2
    for rec in recs:
        want = set(afields.split(",")) | {"gid"}
        if rec["host"] != "asana":
            want -= {"size"}  # "Only present when the resource_subtype is asana."
        assert set(rec) == want
    rec = emu.api_get(f"/attachments/{recs[0]['gid']}?opt_fields=parent.name,size")[1]["data"]
    assert rec == {"gid": recs[0]["gid"], "size": 5 * 1024 * 1024,
                   "parent": {"gid": video, "name": "Launch video"}}
    ws = world["workspaces"][0]["gid"]
    projects = emu.api_get(f"/workspaces/{ws}/projects?opt_fields=name,created_at,modified_at")
    assert all(set(p) == {"gid", "name", "created_at", "modified_at"} for p in projects[1]["data"])
    assert all(set(w) == {"gid", "name"}
               for w in emu.api_get("/workspaces?opt_fields=name")[1]["data"])


def test_timestamps_and_gids_have_asana_form(world):
    import re
    stamp = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
    for kind in ("projects", "tasks", "attachments"):
        for rec in world[kind]:
            assert rec["gid"].isdigit()
            assert stamp.match(rec["created_at"]), rec
    for t in world["tasks"]:
        assert t["modified_at"] >= t["created_at"]
        for a in attachments_of(world, t["gid"]):
            assert t["modified_at"] >= a["created_at"]


def test_opt_pretty(emu):
    status, _, raw = emu.request("GET", emu.api_url + "/workspaces?opt_pretty",
                                 headers={"Authorization": "Bearer " + TOKEN})
    assert status == 200 and b"\n" in raw
    assert json.loads(raw)["data"]


# ---- pagination ---------------------------------------------------------------------------


def test_pagination_walks_to_the_end(emu, world):
    eng = by_name(world["projects"], "Engineering")["gid"]
    want = [t["gid"] for t in world["tasks"] if eng in t["projects"]]
    assert len(want) == 120
    items, pages = walk(emu, f"/projects/{eng}/tasks", 100)
    assert pages == 2 and [t["gid"] for t in items] == want
    items, pages = walk(emu, f"/projects/{eng}/tasks", 7)
    assert pages == 18 and [t["gid"] for t in items] == want
    items, pages = walk(emu, f"/projects/{eng}/tasks", 60)
    assert pages == 2 and [t["gid"] for t in items] == want  # exact fit: last page has null


def test_pagination_everywhere(emu, world):
    items, pages = walk(emu, "/workspaces", 1)
    assert [w["gid"] for w in items] == [w["gid"] for w in world["workspaces"]] and pages == 2
    logo = by_name(world["tasks"], "Logo refresh")["gid"]
    items, pages = walk(emu, f"/attachments?parent={logo}", 2, "&opt_fields=name,size")
    assert [a["gid"] for a in items] == [a["gid"] for a in attachments_of(world, logo)]
    assert pages == 3 and all(set(a) == {"gid", "name", "size"} for a in items)
    palette = by_name(world["tasks"], "Color palette")["gid"]
    items, pages = walk(emu, f"/tasks/{logo}/subtasks", 1)
    assert [t["gid"] for t in items] == [palette] and pages == 1
    empty = by_name(world["projects"], "Empty project")["gid"]
    status, body = emu.api_get(f"/projects/{empty}/tasks?limit=5")
    assert body == {"data": [], "next_page": None}


def test_next_page_tokens_are_opaque_and_checked(emu, world):
    eng = by_name(world["projects"], "Engineering")["gid"]
    body = emu.api_get(f"/projects/{eng}/tasks?limit=3")[1]
    offset = body["next_page"]["offset"]
    assert not offset.isdigit()
    split = urllib.parse.urlsplit(body["next_page"]["path"])
    assert split.path == f"/projects/{eng}/tasks"
    assert urllib.parse.parse_qs(split.query) == {"limit": ["3"], "offset": [offset]}
    second = emu.api_get(f"/projects/{eng}/tasks?limit=3&offset={offset}")[1]["data"]
    assert [t["name"] for t in second] == ["Ticket 004", "Ticket 005", "Ticket 006"]
    # Tokens are bound to their list and cannot be forged.
    design = by_name(world["projects"], "Design / Marketing")["gid"]
    assert emu.api_get(f"/projects/{design}/tasks?limit=3&offset={offset}")[0] == 400
    for bad in ["3", "bm90LWlzc3VlZA", offset[:-2] + "xx"]:
        status, body = emu.api_get(f"/projects/{eng}/tasks?limit=3&offset={bad}")
        assert status == 400 and body["errors"][0]["message"]


@pytest.mark.parametrize("limit", ["0", "101", "-1", "abc", "", "1.5"])
def test_limit_outside_1_to_100_is_400(emu, world, limit):
    eng = by_name(world["projects"], "Engineering")["gid"]
    status, body = emu.api_get(f"/projects/{eng}/tasks?limit={limit}")
    assert status == 400 and set(body) == {"errors"}


def test_unpaginated_lists_stop_at_1000(fresh, tmp_path):
    seed = tmp_path / "big.json"
    seed.write_text(json.dumps({"workspaces": [{"name": "W", "projects": [
        {"name": "P", "tasks": [{"name": f"t{i}"} for i in range(1005)]}]}]}))
    e = fresh(seed=str(seed))
    project = e.state()["projects"][0]["gid"]
    assert len(e.api_get(f"/projects/{project}/tasks")[1]["data"]) == 1000
    items, pages = walk(e, f"/projects/{project}/tasks", 100)
    assert len(items) == 1005 and pages == 11


# ---- errors --------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [
    f"/tasks/{MISSING}", f"/tasks/{MISSING}/subtasks", f"/projects/{MISSING}",
    f"/projects/{MISSING}/tasks", f"/workspaces/{MISSING}", f"/workspaces/{MISSING}/projects",
    f"/attachments/{MISSING}", f"/attachments?parent={MISSING}", f"/users/{MISSING}",
    "/no_such_route", "/tasks", "/tasks/1/stories",
])
def test_404(emu, path):
    status, body = emu.api_get(path)
    assert status == 404
    assert set(body) == {"errors"} and body["errors"][0]["message"]


def test_wrong_kind_of_gid_is_404(emu, world):
    task = world["tasks"][0]["gid"]
    assert emu.api_get(f"/projects/{task}")[0] == 404
    assert emu.api_get(f"/attachments/{task}")[0] == 404


@pytest.mark.parametrize("path", ["/attachments", "/tasks/abc", "/attachments?parent=abc",
                                  "/projects/1x/tasks"])
def test_malformed_parameters_are_400(emu, path):
    status, body = emu.api_get(path)
    assert status == 400 and body["errors"][0]["message"]


def test_attachments_of_a_workspace_is_400(emu, world):
    ws = world["workspaces"][0]["gid"]
    assert emu.api_get(f"/attachments?parent={ws}")[0] == 400


# ---- downloads -----------------------------------------------------------------------------


def download_url(emu, gid):
    status, body = emu.api_get(f"/attachments/{gid}?opt_fields=download_url")
    assert status == 200
    return body["data"]["download_url"]


def hosted(world, name):
    return by_name([a for a in world["attachments"] if a["host"] == "asana"], name)


def test_download_matches_state_and_content(emu, world):
    for a in world["attachments"]:
        if a["host"] != "asana":
            continue
        data = emu.content(a["gid"])
        assert len(data) == a["size"]
        assert hashlib.sha256(data).hexdigest() == a["sha256"]
        status, hdrs, raw = http_request("GET", download_url(emu, a["gid"]))
        assert status == 200 and raw == data
        assert hdrs["accept-ranges"] == "bytes" and int(hdrs["content-length"]) == a["size"]


def test_ranges(emu, world):
    big = hosted(world, "launch.mp4")
    data = emu.content(big["gid"])
    size = len(data)
    assert size == 5 * 1024 * 1024
    url = download_url(emu, big["gid"])
    cases = [("bytes=0-0", 0, 0), ("bytes=100-199", 100, 199), ("bytes=5000000-", 5000000, size - 1),
             ("bytes=-1000", size - 1000, size - 1), (f"bytes={size - 10}-{size + 100}",
                                                      size - 10, size - 1),
             (f"bytes=-{size * 2}", 0, size - 1)]
    for header, first, last in cases:
        status, hdrs, raw = http_request("GET", url, headers={"Range": header})
        assert status == 206, header
        assert hdrs["content-range"] == f"bytes {first}-{last}/{size}", header
        assert int(hdrs["content-length"]) == last - first + 1
        assert raw == data[first:last + 1], header
    for header in [f"bytes={size}-", f"bytes={size + 5}-{size + 10}", "bytes=-0"]:
        status, hdrs, raw = http_request("GET", url, headers={"Range": header})
        assert status == 416, header
        assert hdrs["content-range"] == f"bytes */{size}"
    # Not a byte range we serve: the whole file.
    status, _, raw = http_request("GET", url, headers={"Range": "bytes=0-1,5-6"})
    assert status == 200 and raw == data


def test_empty_file(emu, world):
    empty = hosted(world, "empty.txt")
    assert empty["size"] == 0 and emu.content(empty["gid"]) == b""
    status, hdrs, raw = http_request("GET", download_url(emu, empty["gid"]))
    assert status == 200 and raw == b"" and hdrs["content-length"] == "0"
    status, _, _ = http_request("GET", download_url(emu, empty["gid"]),
                                headers={"Range": "bytes=0-"})
    assert status == 416


def test_blob_url_signature_is_checked(emu, world):
    a = hosted(world, "brief.txt")
    url = download_url(emu, a["gid"])
    parts = urllib.parse.urlsplit(url)
    q = urllib.parse.parse_qs(parts.query)
    later = int(q["expires"][0]) + 1000
    forged = f"{emu.base_url}{parts.path}?expires={later}&sig={q['sig'][0]}"
    status, _, raw = http_request("GET", forged)
    assert status == 403 and b"<Error>" in raw
    other = hosted(world, "palette.csv")["gid"]
    assert http_request("GET", url.replace(a["gid"], other))[0] == 403
    assert http_request("GET", f"{emu.base_url}/_blobs/{a['gid']}")[0] == 403


def test_blob_urls_expire(fresh):
    e = fresh(url_ttl_s=1)
    a = hosted(e.state(), "brief.txt")
    url = download_url(e, a["gid"])
    assert http_request("GET", url)[0] == 200
    time.sleep(2.5)
    status, hdrs, raw = http_request("GET", url)
    assert status == 403 and b"expired" in raw
    assert http_request("GET", download_url(e, a["gid"]))[0] == 200  # a fresh URL works


def test_deleted_attachment_blob_is_404(fresh):
    e = fresh()
    a = hosted(e.state(), "brief.txt")
    url = download_url(e, a["gid"])
    assert e.api_request("DELETE", f"/attachments/{a['gid']}")[0] == 200
    assert http_request("GET", url)[0] == 404


def test_conn_bandwidth_still_serves_the_bytes(fresh):
    e = fresh(extra_args=["--conn-bandwidth", "400000"])
    a = hosted(e.state(), "receipt.pdf")
    status, _, raw = http_request("GET", download_url(e, a["gid"]))
    assert status == 200 and raw == e.content(a["gid"])


def test_latency_option_keeps_replies_correct(fresh):
    e = fresh(latency_ms=30)
    status, body = e.api_get("/workspaces")
    assert status == 200 and len(body["data"]) == 2


# ---- statistics ----------------------------------------------------------------------------


def test_stats_count_routes_by_template(fresh):
    e = fresh()
    world = e.state()
    e.reset_stats()
    logo = by_name(world["tasks"], "Logo refresh")["gid"]
    e.api_get("/users/me")
    e.api_get(f"/tasks/{logo}/subtasks")
    e.api_get(f"/tasks/{logo}/subtasks?limit=10")
    e.api_get(f"/attachments?parent={logo}")
    e.api_get("/users/me", token="bad")  # counted: the server saw it
    e.api_get("/no_such/123")
    a = hosted(world, "brief.txt")["gid"]
    url = download_url(e, a)
    http_request("GET", url)
    http_request("GET", url, headers={"Authorization": "Bearer leak"})
    e.state()  # /_control is not counted
    s = e.stats()
    assert s["requests"] == {"GET /users/me": 2, "GET /tasks/{gid}/subtasks": 2,
                             "GET /attachments": 1, "GET /attachments/{gid}": 1,
                             "GET /no_such/{gid}": 1, "GET /_blobs": 2}
    assert s["total_api_requests"] == 7
    assert s["blob_requests"] == 2 and s["blob_auth_headers"] == 1
    assert s["blob_bytes"] == 2 * len(e.content(a))
    assert s["uploads"] == 0 and s["deletes"] == 0
    e.reset_stats()
    s = e.stats()
    assert s["requests"] == {} and s["total_api_requests"] == 0 and s["blob_bytes"] == 0


# ---- faults --------------------------------------------------------------------------------


def test_fault_kinds(fresh):
    e = fresh()
    e.set_faults("500@GET /workspaces")
    status, body = e.api_get("/workspaces")
    assert status == 500 and body["errors"][0]["phrase"]
    assert e.api_get("/users/me")[0] == 200  # out of scope
    e.set_faults("429")
    status, hdrs, raw = e.request("GET", e.api_url + "/users/me",
                                  headers={"Authorization": "Bearer " + TOKEN})
    assert status == 429 and hdrs["retry-after"] == "1" and json.loads(raw)["errors"]
    for kind in ("502", "503"):
        e.set_faults(f"{kind}@/users")
        assert e.api_get("/users/me")[0] == int(kind)
        assert e.api_get("/workspaces")[0] == 200
    e.set_faults("reset@GET /users/me")
    with pytest.raises((ConnectionError, http.client.HTTPException, OSError)):
        e.api_get("/users/me")
    assert e.api_get("/workspaces")[0] == 200
    e.set_faults("503@/_blobs")
    a = hosted(e.state(), "brief.txt")["gid"]
    url = download_url(e, a)
    assert http_request("GET", url)[0] == 503
    e.set_faults("")
    assert http_request("GET", url)[0] == 200
    assert e.api_get("/users/me")[0] == 200
    assert e.stats()["faults_injected"] == 6


def test_upload_fault_scope(fresh):
    e = fresh()
    task = by_name(e.state()["tasks"], "Groceries")["gid"]
    e.set_faults("500@POST /attachments")
    status, body = e.upload(task, "list.txt", b"milk\n")
    assert status == 500
    assert e.api_get(f"/attachments?parent={task}")[1]["data"] == []
    assert e.stats()["uploads"] == 0


def test_probabilistic_faults_are_repeatable(fresh):
    outcomes = []
    for _ in range(2):
        e = fresh(faults="503:0.5@GET /users/me", extra_args=["--fault-seed", "7"])
        outcomes.append([e.api_get("/users/me")[0] for _ in range(40)])
    assert outcomes[0] == outcomes[1]
    assert set(outcomes[0]) == {200, 503}
    e = fresh(faults="503:0.5@GET /users/me", extra_args=["--fault-seed", "8"])
    assert [e.api_get("/users/me")[0] for _ in range(40)] != outcomes[0]


def test_bad_fault_spec_is_refused(emu):
    for spec in ["418", "500:2", "500:x", "500@", "slow@GET users"]:
        status, _, _ = emu.request("POST", "/_control/faults", body=spec.encode())
        assert status == 400, spec


def test_slow_fault_does_not_block_shutdown(fresh):
    e = fresh(faults="slow@GET /users/me")
    errors = []

    def call():
        try:
            errors.append(e.api_get("/users/me")[0])
        except OSError as exc:
            errors.append(exc)

    t = threading.Thread(target=call)
    t.start()
    deadline = time.monotonic() + 10
    while e.stats()["total_api_requests"] == 0:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    e.stop()  # must exit 0 within stop()'s deadline although the reply is 40 s away
    t.join(timeout=20)
    assert not t.is_alive()


# ---- writes --------------------------------------------------------------------------------


def test_upload_list_download_delete(fresh):
    e = fresh()
    world = e.state()
    task = by_name(world["tasks"], "Taxes 2023")
    name = "r\u00e9sum\u00e9 2024 #1 100%.txt"
    content = b"uploaded bytes\x00\xff\n" * 1000
    e.reset_stats()
    status, body = e.upload(task["gid"], name, content, content_type="text/plain")
    assert status == 200
    att = body["data"]
    assert att["name"] == name and att["resource_subtype"] == att["host"] == "asana"
    assert att["size"] == len(content) and att["parent"]["gid"] == task["gid"]
    assert att["gid"].isdigit() and att["gid"] not in {a["gid"] for a in world["attachments"]}
    assert att["created_at"] > task["created_at"]
    assert e.content(att["gid"]) == content
    assert http_request("GET", att["download_url"])[2] == content
    t = e.api_get(f"/tasks/{task['gid']}?opt_fields=modified_at")[1]["data"]
    assert t["modified_at"] == att["created_at"]
    listed = e.api_get(f"/attachments?parent={task['gid']}")[1]["data"]
    assert [a["gid"] for a in listed][-1] == att["gid"] and len(listed) == 2
    state_rec = [a for a in e.state()["attachments"] if a["gid"] == att["gid"]][0]
    assert state_rec["sha256"] == hashlib.sha256(content).hexdigest()

    status, body = e.api_request("DELETE", f"/attachments/{att['gid']}")
    assert status == 200 and body == {"data": {}}
    assert e.api_get(f"/attachments/{att['gid']}")[0] == 404
    assert e.api_request("DELETE", f"/attachments/{att['gid']}")[0] == 404
    assert len(e.api_get(f"/attachments?parent={task['gid']}")[1]["data"]) == 1
    s = e.stats()
    assert s["uploads"] == 1 and s["deletes"] == 1
    assert s["requests"]["POST /attachments"] == 1
    assert s["requests"]["DELETE /attachments/{gid}"] == 2


def test_upload_same_name_twice_gives_two_attachments(fresh):
    e = fresh()
    task = by_name(e.state()["tasks"], "Groceries")["gid"]
    first = e.upload(task, "list.txt", b"one")[1]["data"]
    second = e.upload(task, "list.txt", b"two")[1]["data"]
    assert first["gid"] != second["gid"] and first["created_at"] <= second["created_at"]
    assert e.content(first["gid"]) == b"one" and e.content(second["gid"]) == b"two"


def test_upload_errors(fresh):
    e = fresh()
    task = by_name(e.state()["tasks"], "Groceries")["gid"]
    assert e.upload(MISSING, "x.txt", b"x")[0] == 404
    ws = e.state()["workspaces"][0]["gid"]
    assert e.upload(ws, "x.txt", b"x")[0] == 400
    boundary = "b0undary"
    only_parent = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"parent\"\r\n\r\n"
                   f"{task}\r\n--{boundary}--\r\n").encode()
    status, body = e.api_request("POST", "/attachments", body=only_parent, headers={
        "Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert status == 400 and "file" in body["errors"][0]["message"]
    only_file = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
                 f"filename=\"a.txt\"\r\n\r\nabc\r\n--{boundary}--\r\n").encode()
    status, body = e.api_request("POST", "/attachments", body=only_file, headers={
        "Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert status == 400 and "parent" in body["errors"][0]["message"]
    status, body = e.api_request("POST", "/attachments", body={"data": {"parent": task}})
    assert status == 400
    assert e.api_get(f"/attachments?parent={task}")[1]["data"] == []
    # The connection survives refused uploads: the next request works.
    assert e.api_get("/users/me")[0] == 200


def test_upload_size_limit_is_100_mib(fresh):
    e = fresh()
    task = by_name(e.state()["tasks"], "Groceries")["gid"]
    limit = 100 * 1024 * 1024
    status, body = e.upload(task, "too-big.bin", b"\0" * (limit + 1))
    assert status == 413 and body["errors"][0]["message"]
    assert e.api_get(f"/attachments?parent={task}")[1]["data"] == []
    status, body = e.upload(task, "just-fits.bin", b"\1" * limit)
    assert status == 200 and body["data"]["size"] == limit
    assert not [f for f in os.listdir(os.path.join(e.state_dir, "blobs")) if f.endswith(".tmp")]


def test_create_task_and_subtask(fresh):
    e = fresh()
    home = by_name(e.state()["projects"], "Home")["gid"]
    status, body = e.api_request("POST", "/tasks", body={
        "data": {"name": "New task", "projects": [home], "notes": "hi"}})
    assert status == 201
    task = body["data"]
    assert task["name"] == "New task" and task["resource_type"] == "task"
    assert [p["gid"] for p in task["projects"]] == [home] and task["notes"] == "hi"
    listed = e.api_get(f"/projects/{home}/tasks")[1]["data"]
    assert listed[-1]["gid"] == task["gid"]
    status, body = e.api_request("POST", f"/tasks/{task['gid']}/subtasks",
                                 body={"data": {"name": "Child"}})
    assert status == 201
    sub = body["data"]
    assert sub["parent"]["gid"] == task["gid"] and sub["projects"] == []
    assert [t["gid"] for t in e.api_get(f"/tasks/{task['gid']}/subtasks")[1]["data"]] == [
        sub["gid"]]
    assert e.api_get(f"/tasks/{task['gid']}?opt_fields=num_subtasks")[1]["data"][
        "num_subtasks"] == 1
    assert e.api_request("POST", "/tasks", body={"data": {"name": "x", "projects": [MISSING]}})[
        0] == 404
    assert e.api_request("POST", f"/tasks/{MISSING}/subtasks", body={"data": {"name": "x"}})[
        0] == 404
    assert e.api_request("POST", "/tasks", body={"data": {"name": "no home"}})[0] == 400
    assert e.api_request("POST", "/tasks", body=b"not json",
                         headers={"Content-Type": "application/json"})[0] == 400
    status, body = e.api_request("POST", "/tasks?opt_fields=name", body={
        "data": {"name": "Selected", "projects": [home]}})
    assert status == 201 and set(body["data"]) == {"gid", "name"}


def test_restart_keeps_state(fresh):
    e = fresh()
    task = by_name(e.state()["tasks"], "Groceries")["gid"]
    att = e.upload(task, "kept.txt", b"kept across restarts")[1]["data"]
    gone = hosted(e.state(), "brief.txt")["gid"]
    e.api_request("DELETE", f"/attachments/{gone}")
    before = e.state()
    e.restart()
    assert e.state() == before
    assert e.content(att["gid"]) == b"kept across restarts"
    assert e.api_get(f"/attachments/{gone}")[0] == 404
    new = e.upload(task, "after.txt", b"x")[1]["data"]
    assert new["gid"] not in {a["gid"] for a in before["attachments"]}


# ---- sections and Key resources (issue 6 views) ---------------------------------------------

def test_sections_of_a_project_and_their_tasks(emu, world):
    design = by_name(world["projects"], "Design / Marketing")
    status, body = emu.api_get(f"/projects/{design['gid']}/sections?limit=100")
    assert status == 200
    assert [s["name"] for s in body["data"]] == ["Backlog", "Doing / now", "Done"]
    assert all(set(s) == {"gid", "resource_type", "name"} and s["resource_type"] == "section"
               for s in body["data"]), "SectionCompact by default"
    assert body["next_page"] is None
    backlog, doing, done = body["data"]
    status, full = emu.api_get(f"/sections/{doing['gid']}")
    assert status == 200 and full["data"]["project"]["gid"] == design["gid"]
    assert full["data"]["created_at"].endswith("Z")
    _, tasks = emu.api_get(f"/sections/{doing['gid']}/tasks?limit=100"
                           "&opt_fields=name,memberships.section.name")
    assert [t["name"] for t in tasks["data"]] == ["Launch video"]
    assert tasks["data"][0]["memberships"] == [
        {"project": {"gid": design["gid"], "resource_type": "project",
                     "name": "Design / Marketing"},
         "section": {"gid": doing["gid"], "name": "Doing / now"}}]
    _, tasks = emu.api_get(f"/sections/{done['gid']}/tasks")
    assert tasks["data"] == []
    # Every task of the project is in exactly one of its sections.
    in_sections = []
    for sec in (backlog, doing, done):
        _, page = emu.api_get(f"/sections/{sec['gid']}/tasks?limit=100")
        in_sections += [t["gid"] for t in page["data"]]
    assert sorted(in_sections) == sorted(design["tasks"])
    assert emu.api_get("/sections/1205000000999999/tasks")[0] == 404
    assert emu.api_get(f"/sections/{design['gid']}/tasks")[0] == 404  # a project is no section
    assert emu.api_get("/projects/x/sections")[0] == 400


def test_a_project_without_declared_sections_has_the_default_one(emu, world):
    home = by_name(world["projects"], "Home")
    _, body = emu.api_get(f"/projects/{home['gid']}/sections")
    assert [s["name"] for s in body["data"]] == ["Untitled section"]
    empty = by_name(world["projects"], "Empty project")
    assert emu.api_get(f"/projects/{empty['gid']}/sections")[1]["data"] == []


def test_key_resources_are_attachments_of_the_project(fresh):
    e = fresh()
    design = by_name(e.state()["projects"], "Design / Marketing")
    status, body = e.api_get(f"/attachments?parent={design['gid']}&limit=100"
                             "&opt_fields=name,size,host,parent")
    assert status == 200
    names = [a["name"] for a in body["data"]]
    assert names == ["brand-guide.pdf", "Moodboard", "Logo refresh"]
    assert all(a["parent"]["gid"] == design["gid"] for a in body["data"])
    status, up = e.upload(design["gid"], "plan.txt", b"key resource bytes")
    assert status == 200 and up["data"]["parent"]["gid"] == design["gid"]
    assert e.content(up["data"]["gid"]) == b"key resource bytes"
    _, body = e.api_get(f"/attachments?parent={design['gid']}")
    assert [a["name"] for a in body["data"]][-1] == "plan.txt"


def test_control_adds_sections_and_tasks_in_them_and_they_persist(fresh):
    e = fresh()
    design = by_name(e.state()["projects"], "Design / Marketing")
    sec = e.add_object({"type": "section", "project": design["gid"], "name": "Later"})
    task = e.add_object({"type": "task", "name": "Someday", "section": sec})
    state = e.state()
    later = by_name(state["sections"], "Later")
    assert later["project"] == design["gid"] and later["tasks"] == [task]
    assert by_name(state["projects"], "Design / Marketing")["sections"][-1] == sec
    assert task in by_name(state["projects"], "Design / Marketing")["tasks"]
    e.restart()
    assert e.state() == state
    e.delete_object(task)
    assert by_name(e.state()["sections"], "Later")["tasks"] == []


# ---- seeds ---------------------------------------------------------------------------------


def test_seeds_are_deterministic(fresh):
    a, b = fresh(), fresh()
    sa, sb = a.state(), b.state()
    assert sa == sb
    for att in sa["attachments"]:
        if att["host"] == "asana":
            assert a.content(att["gid"]) == b.content(att["gid"])


def test_small_seed_has_what_the_suites_need(world):
    names = [x["name"] for kind in ("projects", "tasks", "attachments") for x in world[kind]]
    assert len(world["workspaces"]) >= 2
    assert any("/" in p["name"] for p in world["projects"])
    for p in world["projects"]:
        tasks = [t["name"] for t in world["tasks"] if p["gid"] in t["projects"]]
        if len(tasks) != len(set(tasks)):
            break
    else:
        pytest.fail("no project with two tasks of the same name")
    same = {}
    for a in world["attachments"]:
        same.setdefault((a["parent"], a["name"]), []).append(a["created_at"])
    assert any(len(v) == 2 and v[0] != v[1] for v in same.values())
    sizes = [a["size"] for a in world["attachments"] if a["host"] == "asana"]
    assert 0 in sizes and 5 * 1024 * 1024 in sizes
    subtasks = [t for t in world["tasks"] if t["parent"]]
    subsub = [t for t in subtasks if any(s["gid"] == t["parent"] for s in subtasks)]
    assert subsub, "no sub-subtask"
    assert any(attachments_of(world, t["gid"]) for t in subtasks)
    assert any(a["host"] == "gdrive" and a["resource_subtype"] == "gdrive"
               for a in world["attachments"])
    assert any(any(ord(ch) < 32 for ch in n) for n in names)
    assert "." in names and ".." in names and "" in names
    assert any(len(n.encode()) > 255 and not n.rsplit(".", 1)[-1].isascii() for n in names)
    assert any("." not in n and n for n in (a["name"] for a in world["attachments"]))
    counts = [len([t for t in world["tasks"] if p["gid"] in t["projects"]])
              for p in world["projects"]]
    assert 100 < max(counts) <= 200


def test_medium_seed(fresh):
    e = fresh(seed="medium")
    s = e.state()
    assert len(s["workspaces"]) == 1 and len(s["projects"]) == 20
    assert len(s["tasks"]) == 1000 and len(s["attachments"]) == 2000 + 20
    assert all(len(attachments_of(s, t["gid"])) == 2 for t in s["tasks"])
    # One Key resource per project (GET /attachments?parent=<project>).
    assert all(len(attachments_of(s, p["gid"])) == 1 for p in s["projects"])


def test_demo_seed(fresh):
    e = fresh(seed="demo")
    s = e.state()
    assert 1 <= len(s["workspaces"]) <= 2
    assert any(t["parent"] for t in s["tasks"])
    csv = by_name(s["attachments"], "budget.csv")
    assert e.content(csv["gid"]).startswith(b"item,amount_usd\n")
    png = by_name(s["attachments"], "homepage.png")
    assert e.content(png["gid"]).startswith(b"\x89PNG\r\n\x1a\n")


def test_file_seed(fresh, tmp_path):
    seed = {
        "base_time": "2023-05-06T07:08:09.010Z",
        "workspaces": [{"name": "Custom", "projects": [
            {"name": "One", "tasks": [
                {"name": "T1", "ref": "t1", "created_at": "2023-06-01T00:00:00.000Z",
                 "attachments": [
                     {"name": "hello.txt", "content": "hello\n"},
                     {"name": "bytes.bin", "content_base64": base64.b64encode(b"\0\1\2").decode()},
                     {"name": "gen.bin", "size": 4096},
                     {"name": "Doc", "host": "gdrive",
                      "view_url": "https://drive.google.com/file/d/x/view"},
                 ],
                 "subtasks": [{"name": "S1", "attachments": [{"name": "s.txt", "size": 3}]}]},
            ]},
            {"name": "Two", "tasks": [{"same_as": "t1"}, {"name": "T2"}]},
        ]}],
    }
    path = tmp_path / "custom.json"
    path.write_text(json.dumps(seed))
    e = fresh(seed=str(path))
    s = e.state()
    t1 = by_name(s["tasks"], "T1")
    assert t1["created_at"] == "2023-06-01T00:00:00.000Z"
    two = by_name(s["projects"], "Two")["gid"]
    assert len(t1["projects"]) == 2 and two in t1["projects"]
    assert [t["name"] for t in e.api_get(f"/projects/{two}/tasks")[1]["data"]] == ["T1", "T2"]
    assert e.content(by_name(s["attachments"], "hello.txt")["gid"]) == b"hello\n"
    assert e.content(by_name(s["attachments"], "bytes.bin")["gid"]) == b"\0\1\2"
    gen = by_name(s["attachments"], "gen.bin")
    assert gen["size"] == 4096 and len(e.content(gen["gid"])) == 4096
    doc = by_name(s["attachments"], "Doc")
    assert doc["host"] == "gdrive" and doc["size"] is None
    assert doc["view_url"] == "https://drive.google.com/file/d/x/view"
    assert by_name(s["tasks"], "S1")["parent"] == t1["gid"]
    assert s["workspaces"][0]["created_at"] > "2023-05-06T07:08:09.010Z"


def test_seed_file_sections_and_key_resources(fresh, tmp_path):
    seed = {"workspaces": [{"name": "W", "projects": [{
        "name": "P",
        "attachments": [{"name": "key.txt", "content": "key\n"}],
        "sections": [{"name": "Now", "tasks": [{"name": "A"}, {"name": "B"}]},
                     {"name": "Later", "tasks": [{"name": "C"}]}, {"name": "Empty"}],
        "tasks": [{"name": "Plain"}]}]}]}
    path = tmp_path / "sections.json"
    path.write_text(json.dumps(seed))
    e = fresh(seed=str(path))
    s = e.state()
    project = by_name(s["projects"], "P")
    secs = {sec["name"]: sec for sec in s["sections"]}
    assert [secs[n]["gid"] for n in ("Now", "Later", "Empty")] == project["sections"]
    names = {t["gid"]: t["name"] for t in s["tasks"]}
    assert [names[g] for g in secs["Now"]["tasks"]] == ["A", "B", "Plain"]
    assert [names[g] for g in secs["Later"]["tasks"]] == ["C"]
    assert secs["Empty"]["tasks"] == []
    key = by_name(s["attachments"], "key.txt")
    assert key["parent"] == project["gid"] and e.content(key["gid"]) == b"key\n"


def test_bad_seed_file_fails(binary, tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"workspaces": [{"name": "W", "projects": [{"name": "P", "tasks": '
                    '[{"name": "T", "attachments": [{"name": "a", "size": -1}]}]}]}]}')
    e = Emulator(binary, seed=str(path), state_dir=str(tmp_path / "s"))
    with pytest.raises(EmulatorError, match="size"):
        e.start()


# ---- control API ---------------------------------------------------------------------------


def test_control_objects(fresh):
    e = fresh(seed="demo")
    ws = e.add_object({"type": "workspace", "name": "Added"})
    project = e.add_object({"type": "project", "name": "P", "workspace": ws})
    task = e.add_object({"type": "task", "name": "T", "projects": [project]})
    sub = e.add_object({"type": "task", "name": "S", "parent": task})
    data = os.urandom(1000)
    att = e.add_object({"type": "attachment", "name": "r.bin", "parent": sub,
                        "content_base64": base64.b64encode(data).decode(),
                        "created_at": "2024-05-05T05:05:05.005Z"})
    link = e.add_object({"type": "attachment", "name": "L", "parent": task, "host": "dropbox"})
    sized = e.add_object({"type": "attachment", "name": "z", "parent": task, "size": 70000})
    assert e.content(att) == data and len(e.content(sized)) == 70000
    s = e.state()
    assert by_name(s["tasks"], "S")["parent"] == task
    rec = e.api_get(f"/attachments/{att}")[1]["data"]
    assert rec["created_at"] == "2024-05-05T05:05:05.005Z" and rec["size"] == 1000
    rec = e.api_get(f"/attachments/{link}")[1]["data"]
    assert rec["host"] == "dropbox" and rec["download_url"] is None and "size" not in rec
    assert [p["gid"] for p in e.api_get(f"/workspaces/{ws}/projects")[1]["data"]] == [project]
    e.delete_object(task)
    s = e.state()
    assert not {task, sub, att, link} & {x["gid"] for k in ("tasks", "attachments") for x in s[k]}
    assert e.api_get(f"/tasks/{sub}")[0] == 404
    with pytest.raises(EmulatorError):
        e.delete_object(task)
    with pytest.raises(EmulatorError):
        e.add_object({"type": "task", "name": "orphan", "parent": MISSING})
    e.delete_object(ws)
    assert ws not in [w["gid"] for w in e.state()["workspaces"]]


def test_control_content_of_unknown_is_404(emu):
    assert emu.request("GET", f"/_control/content/{MISSING}")[0] == 404


def test_unknown_http_method_on_api(emu):
    status, _, raw = emu.request("PUT", emu.api_url + "/tasks/1", body=b"{}",
                                 headers={"Authorization": "Bearer " + TOKEN,
                                          "Content-Type": "application/json"})
    assert status == 404 and json.loads(raw)["errors"]


def test_keep_alive_connection_serves_many_requests(emu):
    conn = http.client.HTTPConnection("127.0.0.1", emu.port, timeout=30)
    try:
        for _ in range(20):
            conn.request("GET", "/api/1.0/workspaces", headers={"Authorization": "Bearer " + TOKEN})
            resp = conn.getresponse()
            assert resp.status == 200 and json.loads(resp.read())["data"]
        # A refused upload with a body, then more requests on the same connection.
        conn.request("POST", "/api/1.0/attachments", body=b"x" * 5000,
                     headers={"Authorization": "Bearer wrong", "Content-Type": "text/plain"})
        resp = conn.getresponse()
        assert resp.status == 401
        resp.read()
        conn.request("GET", "/api/1.0/users/me", headers={"Authorization": "Bearer " + TOKEN})
        assert conn.getresponse().status == 200
    finally:
        conn.close()


def test_emulator_listens_where_it_says(emu):
    with socket.create_connection(("127.0.0.1", emu.port), timeout=5):
        pass
