"""What a reconciliation tells its caller: findings, one report per repo, and the sweep's report.

The same objects back the command's text and `--json`, the API's responses and the MCP tool.
The command prints every finding; an answer of the API or MCP is bounded (`bounded=True`): the
counts are whole, the lists stop at `ANSWER_FINDINGS_PER_REPO` findings a repo and
`ANSWER_FINDINGS_TOTAL` in all (a sweep of a few hundred drifting repos answered 1.27 MB before),
and `truncated` with `full_report` says so and names the command that prints them all.
"""

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

# What one answer lists at most: findings of one repo (and its files a budget did not reach), and of a whole sweep.
ANSWER_FINDINGS_PER_REPO = 20
ANSWER_FINDINGS_TOTAL = 100
# The order in which a bounded answer spends its findings: what stops a repo from agreeing comes first.
_LISTING_ORDER = ("errors", "conflicts", "drift", "warnings", "applied")
FULL_REPORT_COMMAND = "manage.py consistency_check {scope} --json"

# What became of a finding; each finding is listed once, in the list its outcome names (ADR-001).
APPLIED = "applied"  # a fixing run wrote it
CONFLICT = "conflict"  # a difference the run will not force
REPORTED = "reported"  # found and left as it is (drift of a report-only run, errors, warnings)


@dataclass
class Finding:
    """One line of a report: what differs, is wrong or was changed, at which field's line, and its outcome."""

    kind: str
    message: str
    file: str | None = None
    line: int | None = None
    key: str | None = None
    field: str | None = None
    file_value: Any = None
    db_value: Any = None
    outcome: str = REPORTED

    @property
    def fixed(self) -> bool:
        return self.outcome == APPLIED

    def as_dict(self) -> dict[str, Any]:
        """The finding in JSON; `db_value` and `fixed` are the older names of `database_value` and `outcome`."""
        return {
            "kind": self.kind,
            "message": self.message,
            "file": self.file,
            "line": self.line,
            "key": self.key,
            "field": self.field,
            "file_value": _jsonable(self.file_value),
            "database_value": _jsonable(self.db_value),
            "db_value": _jsonable(self.db_value),
            "outcome": self.outcome,
            "fixed": self.fixed,
        }

    @property
    def where(self) -> str:
        """`file:line` as editors and terminals link it (`-` for a finding about no file)."""
        if not self.file:
            return "-"
        return f"{self.file}:{self.line}" if self.line else self.file


def differs(subject: str, name: str, file_value: Any, database_value: Any) -> str:
    """The message of a difference, with both values: `task T05: status: file "done", database "todo"`."""
    return f"{subject}: {name}: file {_shown(file_value)}, database {_shown(database_value)}"


def _shown(value: Any) -> str:
    return json.dumps(_jsonable(value), ensure_ascii=False, default=str)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat().replace("+00:00", "Z")
    return value


@dataclass
class RepoReport:
    """What a reconciliation of one repo found and, with `fix`, what it changed."""

    repo: str
    fix: bool
    files: int = 0
    files_unchanged: int = 0
    drift: list[Finding] = field(default_factory=list)
    conflicts: list[Finding] = field(default_factory=list)
    errors: list[Finding] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)
    applied: list[Finding] = field(default_factory=list)
    files_not_reached: list[str] = field(default_factory=list)  # the time budget ran out before these
    synced_at: dt.datetime | None = None
    elapsed_s: float = 0.0

    @property
    def unresolved_drift(self) -> list[Finding]:
        return [item for item in self.drift if not item.fixed]

    @property
    def exit_code(self) -> int:
        """0 clean, 1 drift/conflicts/unreadable files left or files not reached, 2 warnings only (DESIGN §8)."""
        if self.unresolved_drift or self.conflicts or self.errors or self.files_not_reached:
            return 1
        return 2 if self.warnings else 0

    @property
    def status(self) -> str:
        return {0: "clean", 1: "drift", 2: "warnings"}[self.exit_code]

    def as_dict(self, *, bounded: bool = False, findings_limit: int | None = None) -> dict[str, Any]:
        """The report as JSON: every finding, or at most `findings_limit` (`bounded`: `ANSWER_FINDINGS_PER_REPO`)."""
        if bounded and findings_limit is None:
            findings_limit = ANSWER_FINDINGS_PER_REPO
        lists = {
            # Each finding once: `drift` holds what is left (applied drift is under `applied`).
            "drift": self.unresolved_drift,
            "conflicts": self.conflicts,
            "errors": self.errors,
            "warnings": self.warnings,
            "applied": self.applied,
        }
        shown, budget = dict(lists), findings_limit
        if budget is not None:
            for name in _LISTING_ORDER:
                shown[name] = lists[name][: max(budget, 0)]
                budget -= len(shown[name])
        not_reached = self.files_not_reached
        if findings_limit is not None:
            not_reached = not_reached[:findings_limit]
        truncated = len(not_reached) < len(self.files_not_reached) or any(
            len(shown[name]) < len(lists[name]) for name in lists
        )
        body: dict[str, Any] = {
            "repo": self.repo,
            "fix": self.fix,
            "status": self.status,
            "exit_code": self.exit_code,
            "files": self.files,
            "files_unchanged": self.files_unchanged,
            "counts": {
                "drift": len(self.drift),
                "drift_unresolved": len(self.unresolved_drift),
                "conflicts": len(self.conflicts),
                "errors": len(self.errors),
                "warnings": len(self.warnings),
                "applied": len(self.applied),
                "files_not_reached": len(self.files_not_reached),
            },
            **{name: [item.as_dict() for item in items] for name, items in shown.items()},
            "files_not_reached": not_reached,
            "synced_at": _jsonable(self.synced_at),
            "elapsed_s": round(self.elapsed_s, 3),
            "truncated": truncated,
        }
        if truncated:
            body["full_report"] = FULL_REPORT_COMMAND.format(scope=f"--repo {self.repo}")
        return body


def listed_findings(body: dict[str, Any]) -> int:
    """How many findings a repo report's JSON lists."""
    return sum(len(body[name]) for name in _LISTING_ORDER)


@dataclass
class SweepReport:
    """A reconciliation of several repos within a time budget, naming the repos it did not reach."""

    fix: bool
    max_seconds: float | None
    repos: list[RepoReport] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    not_reached: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0

    @property
    def exit_code(self) -> int:
        """As a repo's, over every repo; repos the budget did not reach make it 1, as files not reached do.

        Not reached is not known to agree: "clean" or "warnings only" would claim a check that did not happen.
        """
        codes = {report.exit_code for report in self.repos}
        if 1 in codes or self.not_reached:
            return 1
        return 2 if 2 in codes else 0

    def json_lines(self) -> Iterator[str]:
        """`json.dumps(self.as_dict(), indent=2)` in pieces, one repo at a time.

        A first sweep of 50,000 files lists 300,000 applied findings: built whole, their JSON held
        most of the command's memory. Each piece is written and dropped before the next is built.
        """
        body = self.as_dict(with_repos=False)
        marker = "\u0000repos\u0000"
        head, tail = json.dumps({**body, "repos": marker}, indent=2).split(json.dumps(marker))
        yield head + "["
        for index, report in enumerate(self.repos):
            text = json.dumps(report.as_dict(), indent=2).replace("\n", "\n    ")
            yield ("," if index else "") + "\n    " + text
        yield ("\n  ]" if self.repos else "]") + tail

    def as_dict(self, *, bounded: bool = False, with_repos: bool = True) -> dict[str, Any]:
        """The sweep as JSON: every finding, or (`bounded`) at most `ANSWER_FINDINGS_PER_REPO` a repo and
        `ANSWER_FINDINGS_TOTAL` in all, with each repo's counts whole (`with_repos=False`: without the repos)."""
        repos, budget = [], ANSWER_FINDINGS_TOTAL
        for report in self.repos if with_repos else []:
            if bounded:
                body = report.as_dict(findings_limit=min(ANSWER_FINDINGS_PER_REPO, budget))
                budget -= listed_findings(body)
            else:
                body = report.as_dict()
            repos.append(body)
        truncated = any(body["truncated"] for body in repos)
        sweep: dict[str, Any] = {
            "fix": self.fix,
            "max_seconds": self.max_seconds,
            "status": {0: "clean", 1: "drift", 2: "warnings"}[self.exit_code],
            "exit_code": self.exit_code,
            "repos": repos,
            "skipped": self.skipped,
            "not_reached": self.not_reached,
            "elapsed_s": round(self.elapsed_s, 3),
            "truncated": truncated,
        }
        if truncated:
            sweep["full_report"] = FULL_REPORT_COMMAND.format(scope="--all")
        return sweep
