"""Independent model of the tree asanafs should show for an emulator world.

This re-implements the naming rules from the README ("Tree and names") in a
few lines of Python so the e2e tests can compare the real mount against an
expectation that does not come from the C++ code under test.
"""

import dataclasses
import datetime
import math

MAX_NAME_BYTES = 255
PAGE_SIZE = 100  # the largest page Asana serves; asanafs asks for it


@dataclasses.dataclass
class Node:
    """One expected entry of the mounted tree."""

    kind: str  # "dir" or "file"
    gid: str
    kind_detail: str  # "workspace", "project", "task", "attachment", "link"
    size: int | None = None  # files only
    mtime: str | None = None  # ISO timestamp or None (directories at mount time)
    content: bytes | None = None  # for .url link files: the exact bytes
    record: dict | None = None


def ref(value):
    """Returns the gid of a reference that is either a gid string or a {gid: ...} object."""
    if value is None:
        return None
    if isinstance(value, dict):
        return value.get("gid")
    return str(value)


def refs(values):
    return [ref(v) for v in (values or [])]


def parse_time(text):
    """Parses Asana's `2024-01-02T03:04:05.678Z` to an aware datetime."""
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def time_ns(text):
    dt = parse_time(text)
    delta = dt - datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
    return (delta.days * 86400 + delta.seconds) * 10**9 + delta.microseconds * 1000


def sanitize(name):
    """Rules 1 and 2: separators, control characters and the reserved names."""
    out = []
    for ch in name or "":
        code = ord(ch)
        if ch == "/":
            out.append("\u2215")
        elif code <= 0x1F or code == 0x7F:
            out.append("\ufffd")
        else:
            out.append(ch)
    text = "".join(out)
    if text == ".":
        return "\uff0e"
    if text == "..":
        return "\uff0e\uff0e"
    if text == "":
        return "(no name)"
    return text


def split_ext(name, is_dir):
    """Splits at the last dot unless it is the first character; directories have no extension."""
    if is_dir:
        return name, ""
    dot = name.rfind(".")
    if dot <= 0:
        return name, ""
    return name[:dot], name[dot:]


def cut_utf8(text, max_bytes):
    """The longest prefix of text whose UTF-8 encoding fits in max_bytes."""
    data = text.encode("utf-8")
    if len(data) <= max_bytes:
        return text
    return data[:max(max_bytes, 0)].decode("utf-8", errors="ignore")


def compose(name, is_dir, suffix):
    """Rules 4 and 5: inserts the collision suffix and cuts to 255 bytes."""
    stem, ext = split_ext(name, is_dir)
    full = stem + suffix + ext
    if len(full.encode("utf-8")) <= MAX_NAME_BYTES:
        return full
    budget = MAX_NAME_BYTES - len((suffix + ext).encode("utf-8"))
    assert budget > 0, f"extension of {name!r} too long for the naming rules to keep"
    return cut_utf8(stem, budget) + suffix + ext


def name_siblings(entries):
    """entries: list of (base_name, is_dir, gid, created_at or None, payload).

    Returns {final_name: payload}. The oldest entry by (created_at, gid) keeps
    the plain name; the others get " [gid]".
    """
    groups = {}
    for entry in entries:
        groups.setdefault(entry[0], []).append(entry)
    result = {}
    for base, group in groups.items():
        far_past = datetime.datetime(1, 1, 1, tzinfo=datetime.timezone.utc)
        group.sort(key=lambda e: (parse_time(e[3]) if e[3] else far_past, int(e[2])))
        for index, (_, is_dir, gid, _, payload) in enumerate(group):
            suffix = "" if index == 0 else f" [{gid}]"
            final = compose(base, is_dir, suffix)
            assert final not in result, f"naming model produced a duplicate: {final!r}"
            result[final] = payload
    return result


def link_content(view_url):
    return f"[InternetShortcut]\nURL={view_url}\n".encode("utf-8")


class World:
    """Indexes an emulator `/_control/state` document."""

    def __init__(self, state):
        self.state = state
        self.workspaces = list(state["workspaces"])
        self.projects = list(state["projects"])
        self.tasks = list(state["tasks"])
        self.attachments = list(state["attachments"])
        self.task_by_gid = {t["gid"]: t for t in self.tasks}

    def projects_of(self, workspace_gid):
        return [p for p in self.projects if ref(p.get("workspace")) == workspace_gid]

    def tasks_of_project(self, project_gid):
        return [t for t in self.tasks if project_gid in refs(t.get("projects"))]

    def subtasks_of(self, task_gid):
        return [t for t in self.tasks if ref(t.get("parent")) == task_gid]

    def attachments_of(self, task_gid):
        return [a for a in self.attachments if ref(a.get("parent")) == task_gid]

    @staticmethod
    def is_hosted(attachment):
        return (attachment.get("host") or attachment.get("resource_subtype")) == "asana"

    def sections_of(self, project_gid):
        """The project's sections in order (emulator state: project["sections"] gids)."""
        by_gid = {sec["gid"]: sec for sec in self.state.get("sections", [])}
        project = next(p for p in self.projects if p["gid"] == project_gid)
        return [by_gid[g] for g in project.get("sections", [])]

    def _file_entries(self, parent_gid):
        """Naming entries for the attachments of a task or (Key resources) a project."""
        entries = []
        for att in self.attachments_of(parent_gid):
            if self.is_hosted(att):
                node = Node("file", att["gid"], "attachment", size=att["size"],
                            mtime=att["created_at"], record=att)
                base = sanitize(att["name"])
            else:
                content = link_content(att["view_url"])
                node = Node("file", att["gid"], "link", size=len(content), mtime=att["created_at"],
                            content=content, record=att)
                base = sanitize(att["name"]) + ".url"
            entries.append((base, False, att["gid"], att.get("created_at"), node))
        return entries

    @staticmethod
    def _task_entries(tasks):
        return [(sanitize(t["name"]), True, t["gid"], t.get("created_at"),
                 Node("dir", t["gid"], "task", mtime=t.get("modified_at"), record=t))
                for t in tasks]

    def _task_children(self, task_gid):
        return name_siblings(self._task_entries(self.subtasks_of(task_gid))
                             + self._file_entries(task_gid))

    def expected_tree(self, sections=False):
        """{relative path: Node} for every entry below the mountpoint.

        A project directory holds its tasks and its Key resources (attachments whose
        parent is the project), named together; with `sections` (-o sections) it holds
        one directory per section instead of its tasks, each holding that section's tasks.
        """
        tree = {}

        def add_task(path, node):
            tree[path] = node
            for name, child in self._task_children(node.gid).items():
                child_path = f"{path}/{name}"
                if child.kind == "dir":
                    add_task(child_path, child)
                else:
                    tree[child_path] = child

        ws_entries = [(sanitize(w["name"]), True, w["gid"], w.get("created_at"),
                       Node("dir", w["gid"], "workspace", record=w)) for w in self.workspaces]
        for ws_name, ws_node in name_siblings(ws_entries).items():
            tree[ws_name] = ws_node
            pr_entries = [(sanitize(p["name"]), True, p["gid"], p.get("created_at"),
                           Node("dir", p["gid"], "project", record=p))
                          for p in self.projects_of(ws_node.gid)]
            for pr_name, pr_node in name_siblings(pr_entries).items():
                pr_path = f"{ws_name}/{pr_name}"
                tree[pr_path] = pr_node
                files = self._file_entries(pr_node.gid)
                if sections:
                    dirs = [(sanitize(sec["name"]), True, sec["gid"], sec.get("created_at"),
                             Node("dir", sec["gid"], "section", record=sec))
                            for sec in self.sections_of(pr_node.gid)]
                else:
                    dirs = self._task_entries(self.tasks_of_project(pr_node.gid))
                for name, node in name_siblings(dirs + files).items():
                    path = f"{pr_path}/{name}"
                    if node.kind_detail == "section":
                        tree[path] = node
                        tasks = [self.task_by_gid[g] for g in node.record["tasks"]]
                        for task_name, task_node in name_siblings(
                                self._task_entries(tasks)).items():
                            add_task(f"{path}/{task_name}", task_node)
                    elif node.kind == "dir":
                        add_task(path, node)
                    else:
                        tree[path] = node
        return tree


def pages(count):
    """Requests needed to list `count` items with limit=PAGE_SIZE (an empty list is one page)."""
    return max(1, math.ceil(count / PAGE_SIZE))
