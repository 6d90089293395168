"""Reading workplan files (DESIGN §8): YAML front matter plus one fenced `task` block per `## Task …:` section.

Parsing is pure: it reads files and returns plain data, never touching the database. A malformed
file raises `WorkplanError` with the file and line, and the caller skips that file whole.
"""

import contextlib
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import Resolver
from yaml.scanner import Scanner

from hub.errors import ValidationFailed
from hub.keys import KEY_MESSAGE, KEY_RE
from hub.models import Task, Workstream
from hub.transitions import normalize_status

_LINE_KEY = "__line__"
_LINES_KEY = "__lines__"
_TASK_HEADING = re.compile(r"^##\s+Task\b[^:\n]*:\s*(?P<title>.*?)\s*#*\s*$")
_SECTION_HEADING = re.compile(r"^#{1,2}\s")
_FENCE = re.compile(r"^(?P<fence>`{3,}|~{3,})\s*(?P<info>[\w-]*)")
_TITLE_HEADING = re.compile(r"^#\s+(?P<title>.+?)\s*$")

# YAML nodes a file may hold in all its YAML together: a real workplan has a few hundred, and composing
# and constructing is the costly part, so this bounds the CPU and memory one file can take.
MAX_YAML_NODES = 20_000


class _PythonParser(Reader, Scanner, Parser):
    """PyYAML's pure-Python event parser, for an installation without libyaml."""

    def __init__(self, stream: str) -> None:
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        Parser.__init__(self)


# libyaml's parser when present (fast); see _load_yaml for where composing happens.
_CParser: Any = None
with contextlib.suppress(ImportError):
    from yaml.cyaml import CParser as _CParser  # type: ignore[attr-defined]
_Parser: Any = _CParser or _PythonParser

# A YAML text this short, with no '&' and no '*' anywhere (so no anchor or alias can be in it), is
# composed by libyaml in C and its nodes counted before anything is built: the common case (a front
# matter, a task block) at C speed. Any other text is composed node by node in Python.
_FAST_MAX_CHARS = 64 * 1024


class _Refused(Exception):
    """A YAML construct the hub refuses to compose, at the mark where it starts."""

    def __init__(self, message: str, mark: Any) -> None:
        super().__init__(message)
        self.message = message
        self.mark = mark


class _NodeBudget:
    """How many more YAML nodes one file may compose (shared by its front matter and task blocks)."""

    def __init__(self, nodes: int = MAX_YAML_NODES) -> None:
        self.nodes = nodes

    def spend(self, nodes: int, mark: Any) -> None:
        self.nodes -= nodes
        if self.nodes < 0:
            raise _Refused(f"too much YAML (more than {MAX_YAML_NODES} values in the file)", mark)


class _LineMappings:
    """Remember the line of every mapping and of each of its keys, so findings can point at a field's line.

    Lines are 1-based within the YAML text: `__line__` holds the mapping's, `__lines__` each scalar key's.
    """

    def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
        mapping = super().construct_mapping(node, deep=deep)  # type: ignore[misc]
        mapping[_LINE_KEY] = node.start_mark.line + 1
        mapping[_LINES_KEY] = {
            key.value: key.start_mark.line + 1 for key, _ in node.value if isinstance(key, ScalarNode)
        }
        return mapping


class _LineLoader(_LineMappings, Composer, _Parser, SafeConstructor, Resolver):
    """The safe YAML loader without anchors or aliases, remembering the line of every mapping.

    Anchors and aliases are refused where they appear: an alias makes a few hundred bytes expand
    into billions of values (the "billion laughs"), and workplans never need them. Composing is
    Python's `Composer` over libyaml's events so that this check, and the node budget, run before
    anything is built.
    """

    def __init__(self, stream: str, budget: _NodeBudget) -> None:
        _Parser.__init__(self, stream)
        Composer.__init__(self)
        SafeConstructor.__init__(self)
        Resolver.__init__(self)
        self.budget = budget

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            raise _Refused("YAML aliases (*name) are not accepted", event.start_mark)
        if getattr(event, "anchor", None) is not None:
            raise _Refused("YAML anchors (&name) are not accepted", event.start_mark)
        self.budget.spend(1, event.start_mark)
        return super().compose_node(parent, index)


class _FastLoader(_LineMappings, _Parser, SafeConstructor, Resolver):
    """The safe YAML loader composing in C, for short texts that cannot hold an anchor or alias."""

    def __init__(self, stream: str) -> None:
        _Parser.__init__(self, stream)
        SafeConstructor.__init__(self)
        Resolver.__init__(self)


def _count_nodes(root: Node) -> int:
    count, pending = 0, [root]
    while pending:
        node = pending.pop()
        count += 1
        if isinstance(node, MappingNode):
            pending.extend(item for pair in node.value for item in pair)
        elif isinstance(node, SequenceNode):
            pending.extend(node.value)
    return count


class WorkplanError(Exception):
    """A workplan file that cannot be read as a workplan; it names the file and the line."""

    def __init__(self, message: str, *, file: str, line: int | None) -> None:
        super().__init__(f"{file}:{line or '?'}: {message}")
        self.message = message
        self.file = file
        self.line = line


@dataclass(frozen=True)
class TaskSpec:
    """One task as its workplan file states it."""

    key: str
    title: str
    status: str
    priority: str
    assignee: str
    order: int
    line: int  # the task's ```task block (or its item of a front-matter `tasks:` list)
    lines: Mapping[str, int] = field(default_factory=dict, compare=False)  # field -> the line stating it

    def line_of(self, name: str) -> int:
        """The line stating the task's field `name`, or the task's own line when the file leaves it out."""
        return self.lines.get(name, self.line)


@dataclass
class WorkplanSpec:
    """One workplan file as the hub understands it: the workstream and its tasks."""

    key: str
    title: str
    status: str
    owner: str
    priority: int
    repo_slug: str | None
    domain_goal: str | None
    path: str
    content_hash: str
    line: int
    tasks: list[TaskSpec] = field(default_factory=list)
    lines: dict[str, int] = field(default_factory=dict)  # field -> the line stating it

    def line_of(self, name: str) -> int:
        """The line stating the workstream's field `name`, or the file's first line when the file leaves it out."""
        return self.lines.get(name, self.line)


def content_hash(data: bytes) -> str:
    """The content hash stored as `Workstream.source_hash` (hex SHA-256 of the file's bytes)."""
    return hashlib.sha256(data).hexdigest()


def workplan_files(directory: Path) -> list[Path]:
    """The workplan files of a trusted directory: `*.md` and `archived/*.md`, without README.md.

    For tests and benchmarks; a repository's checkout is listed by `hub.reconcile.reading`, which
    does not follow symlinks out of it.
    """
    found: list[Path] = []
    for folder in (directory, directory / "archived"):
        if folder.is_dir():
            found.extend(
                path for path in sorted(folder.glob("*.md")) if path.is_file() and path.name.lower() != "readme.md"
            )
    return found


def _load_yaml(text: str, *, file: str, first_line: int, budget: _NodeBudget) -> Any:
    fast = _CParser is not None and len(text) <= _FAST_MAX_CHARS and "&" not in text and "*" not in text
    loader = _FastLoader(text) if fast else _LineLoader(text, budget)
    try:
        if fast:
            node = loader.get_single_node()
            if node is not None:
                budget.spend(_count_nodes(node), node.start_mark)
            data = loader.construct_document(node) if node is not None else None
        else:
            data = loader.get_single_data()
    except _Refused as exc:
        raise WorkplanError(exc.message, file=file, line=first_line + exc.mark.line) from exc
    except yaml.YAMLError as exc:
        # The context mark is where the construct that failed began, usually the line to fix.
        mark = getattr(exc, "context_mark", None) or getattr(exc, "problem_mark", None)
        line = first_line + mark.line if mark is not None else first_line
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise WorkplanError(f"invalid YAML: {problem}", file=file, line=line) from exc
    finally:
        loader.dispose()
    if _has_nul(data):
        # PostgreSQL refuses NUL in text; a YAML escape ("\0") can produce one.
        raise WorkplanError("a value contains a NUL character", file=file, line=first_line)
    return data


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(item) for item in value)
    return False


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _check_key(kind: str, key: str, *, file: str, line: int) -> None:
    if not KEY_RE.match(key):
        raise WorkplanError(f"{kind} id {key!r}: {KEY_MESSAGE}", file=file, line=line)


def _status(model: type[Task | Workstream], value: Any, *, file: str, line: int) -> str:
    try:
        return normalize_status(model, value)
    except ValidationFailed as exc:
        raise WorkplanError(f"unknown {model._meta.verbose_name} status: {exc.message}", file=file, line=line) from exc


def _field_lines(mapping: dict[str, Any], first_line: int, fields: Mapping[str, tuple[str, ...]]) -> dict[str, int]:
    """The file line of each field, from the YAML keys stating it (`first_line` is the YAML text's first line)."""
    key_lines: dict[str, int] = mapping.get(_LINES_KEY) or {}
    found: dict[str, int] = {}
    for name, keys in fields.items():
        line = next((key_lines[key] for key in keys if key in key_lines), None)
        if line is not None:
            found[name] = first_line - 1 + line
    return found


# Model field -> the YAML keys that may state it, in a task and in the front matter.
_TASK_KEYS = {
    "key": ("id",),
    "title": ("title",),
    "status": ("status",),
    "priority": ("priority",),
    "assignee": ("assignee",),
}
_FRONT_KEYS = {
    "key": ("id",),
    "title": ("title",),
    "status": ("status",),
    "owner": ("owner",),
    "priority": ("priority",),
    "repo_slug": ("repo_slug", "repo"),
    "domain_goal": ("domain_goal",),
}


def _task(
    item: dict[str, Any],
    *,
    title: tuple[str, int] | None,
    order: int,
    file: str,
    line: int,
    first_line: int,
) -> TaskSpec:
    lines = _field_lines(item, first_line, _TASK_KEYS)
    key = _text(item.get("id"))
    if not key:
        raise WorkplanError("task without an `id`", file=file, line=line)
    _check_key("task", key, file=file, line=lines.get("key", line))
    status = _status(Task, item.get("status", Task.Status.TODO), file=file, line=lines.get("status", line))
    priority = _text(item.get("priority") or Task.Priority.MEDIUM).lower()
    if priority not in Task.Priority.values:
        raise WorkplanError(
            f"task {key}: unknown priority {priority!r} (one of: {', '.join(Task.Priority.values)})",
            file=file,
            line=lines.get("priority", line),
        )
    if title and title[0]:
        task_title = title[0]
        lines["title"] = title[1]  # the `## Task …:` heading
    else:
        task_title = _text(item.get("title"))
    if not task_title:
        raise WorkplanError(f"task {key} has no title", file=file, line=line)
    return TaskSpec(
        key=key,
        title=task_title,
        status=status,
        priority=priority,
        assignee=_text(item.get("assignee")),
        order=order,
        line=line,
        lines=lines,
    )


def _split_front_matter(lines: list[str], *, file: str) -> tuple[str, int]:
    """Return the front matter text and the index of the first body line."""
    if not lines or lines[0].strip() != "---":
        raise WorkplanError("no YAML front matter (the file must start with ---)", file=file, line=1)
    for index in range(1, len(lines)):
        if lines[index].strip() in ("---", "..."):
            return "\n".join(lines[1:index]), index + 1
    raise WorkplanError("front matter is not closed by ---", file=file, line=1)


def _body_tasks(
    lines: list[str], start: int, *, file: str, first_order: int, budget: _NodeBudget
) -> tuple[list[TaskSpec], tuple[str, int] | None]:
    """Tasks from `## Task …:` headings and their fenced `task` blocks, plus the first `# ` title and its line."""
    tasks: list[TaskSpec] = []
    h1_title: tuple[str, int] | None = None
    pending: tuple[str, int] | None = None  # (title, line) of a heading still waiting for its block
    index = start
    while index < len(lines):
        line = lines[index]
        fence = _FENCE.match(line)
        if fence:
            marker = fence.group("fence")
            block_start = index
            index += 1
            block: list[str] = []
            while index < len(lines) and not lines[index].startswith(marker):
                block.append(lines[index])
                index += 1
            if index >= len(lines):
                raise WorkplanError("code block is not closed", file=file, line=block_start + 1)
            index += 1
            if fence.group("info") == "task":
                if pending is None:
                    raise WorkplanError(
                        "```task block without a `## Task …:` heading above it", file=file, line=block_start + 1
                    )
                data = _load_yaml("\n".join(block), file=file, first_line=block_start + 2, budget=budget)
                if not isinstance(data, dict):
                    raise WorkplanError("a ```task block must be a YAML mapping", file=file, line=block_start + 1)
                tasks.append(
                    _task(
                        data,
                        title=pending,
                        order=first_order + len(tasks),
                        file=file,
                        line=block_start + 1,
                        first_line=block_start + 2,
                    )
                )
                pending = None
            continue
        heading = _TASK_HEADING.match(line)
        if heading or _SECTION_HEADING.match(line):
            if pending is not None:
                raise WorkplanError(f"heading {pending[0]!r} has no ```task block", file=file, line=pending[1])
            if heading:
                pending = (heading.group("title"), index + 1)
            elif h1_title is None and (title_match := _TITLE_HEADING.match(line)):
                h1_title = (title_match.group("title"), index + 1)
        index += 1
    if pending is not None:
        raise WorkplanError(f"heading {pending[0]!r} has no ```task block", file=file, line=pending[1])
    return tasks, h1_title


def parse_workplan(data: bytes, *, path: str) -> WorkplanSpec:
    """Parse one workplan file's bytes; raise WorkplanError (with file and line) if it is malformed."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise WorkplanError(f"not UTF-8 text: {exc.reason}", file=path, line=None) from exc
    if "\x00" in text:
        raise WorkplanError("contains a NUL character", file=path, line=text[: text.index("\x00")].count("\n") + 1)
    lines = text.splitlines()
    front_text, body_start = _split_front_matter(lines, file=path)
    budget = _NodeBudget()
    front = _load_yaml(front_text, file=path, first_line=2, budget=budget)
    if not isinstance(front, dict):
        raise WorkplanError("front matter must be a YAML mapping", file=path, line=2)
    field_lines = _field_lines(front, 2, _FRONT_KEYS)
    key = _text(front.get("id"))
    if not key:
        raise WorkplanError("front matter has no `id`", file=path, line=2)
    _check_key("workplan", key, file=path, line=field_lines.get("key", 2))
    status = _status(
        Workstream,
        front.get("status", Workstream.Status.PROPOSED),
        file=path,
        line=field_lines.get("status", 2),
    )
    priority_value = front.get("priority", 100)
    if isinstance(priority_value, bool) or not isinstance(priority_value, int):
        raise WorkplanError(
            f"priority must be an integer, not {priority_value!r}", file=path, line=field_lines.get("priority", 2)
        )

    listed = front.get("tasks") or []
    if not isinstance(listed, list):
        raise WorkplanError("`tasks:` in the front matter must be a list", file=path, line=2)
    tasks: list[TaskSpec] = []
    for item in listed:
        if not isinstance(item, dict):
            raise WorkplanError("each item of `tasks:` must be a mapping", file=path, line=2)
        item_line = 1 + int(item.get(_LINE_KEY, 1))
        tasks.append(_task(item, title=None, order=len(tasks) + 1, file=path, line=item_line, first_line=2))
    body_tasks, h1_title = _body_tasks(lines, body_start, file=path, first_order=len(tasks) + 1, budget=budget)
    tasks.extend(body_tasks)

    seen: dict[str, int] = {}
    for task in tasks:
        if task.key in seen:
            raise WorkplanError(
                f"duplicate task id {task.key} (first at line {seen[task.key]})", file=path, line=task.line
            )
        seen[task.key] = task.line

    title = _text(front.get("title"))
    if not title and h1_title is not None and (title := _strip_key(h1_title[0], key)):
        field_lines["title"] = h1_title[1]
    title = title or key
    repo_slug = _text(front.get("repo_slug") or front.get("repo")) or None
    return WorkplanSpec(
        key=key,
        title=title,
        status=status,
        owner=_text(front.get("owner")),
        priority=priority_value,
        repo_slug=repo_slug,
        domain_goal=_text(front.get("domain_goal")) or None,
        path=path,
        content_hash=content_hash(data),
        line=1,
        tasks=tasks,
        lines=field_lines,
    )


def _strip_key(title: str | None, key: str) -> str:
    if not title:
        return ""
    if title.startswith(key):
        title = title[len(key) :].lstrip(" \u2014\u2013-:")
    return title.strip()
