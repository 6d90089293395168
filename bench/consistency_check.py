"""Benchmark: `consistency_check --all` over 5,000 repos x 10 workplan files (50,000 files, 250,000 tasks).

Prints, each with its baseline measured in the same run:
- the first run (`--all --fix`, everything applied), with its peak RSS;
- the unchanged repeat (`--all --fix`, then `--all` without --fix), against the floor (lstat and
  SHA-256 of every file, in-process) and the per-repo path the sweep had before (every repo read
  and booked with its own queries, every file hashed: `run_repo` alone, stat skipping off);
- the queries of one unchanged sweep, and the tables' size per million tasks.
The files are generated once under a temp dir. Uses its own database (BENCH_DATABASE, default
statehub_bench_maint), created and dropped here. Targets: repeat <= 5 s; first <= 120 s; RSS <= 400 MiB.
The machine the figures come from is shared: say so when quoting them.
"""

import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg

from bench._benchdb import bench_url, drop_database, manage, recreate_database, scalar

REPOS = int(os.environ.get("BENCH_REPOS", "5000"))
FILES = int(os.environ.get("BENCH_FILES", "50000"))
TASKS_PER_FILE = int(os.environ.get("BENCH_TASKS_PER_FILE", "5"))
STATUSES = ["todo", "progress", "done", "wait", "in_progress"]
PRIORITIES = ["low", "medium", "high", "critical"]


def write_files(root: Path) -> list[tuple[str, Path]]:
    repos = []
    per_repo = FILES // REPOS
    number = 0
    for r in range(REPOS):
        slug = f"bench-repo-{r:05d}"
        folder = root / slug / "workplans"
        (folder / "archived").mkdir(parents=True)
        for i in range(per_repo):
            number += 1
            key = f"BEN-WP-{number:06d}"
            target = folder / "archived" if i % 10 == 9 else folder
            status = "completed" if i % 10 == 9 else "active"
            lines = [
                "---",
                f"id: {key}",
                "type: workplan",
                f"title: Generated workplan {number}",
                f"repo_slug: {slug}",
                f"status: {status}",
                "owner: bench",
                f"priority: {i % 5}",
                "---",
                f"# {key} — Generated workplan {number}",
                "",
            ]
            for t in range(1, TASKS_PER_FILE + 1):
                task_status = "done" if status == "completed" else STATUSES[(number + t) % len(STATUSES)]
                lines += [
                    f"## Task T{t:02d}: Generated task {t} of {key}",
                    "```task",
                    f"id: {key}-T{t:02d}",
                    f"status: {task_status}",
                    f"priority: {PRIORITIES[t % 4]}",
                    f"assignee: person-{t % 7}",
                    "```",
                    "Some free text describing the task.",
                    "",
                ]
            (target / f"{key}-generated.md").write_text("\n".join(lines))
        repos.append((slug, root / slug))
    return repos


def register(repos: list[tuple[str, Path]]) -> None:
    with psycopg.connect(bench_url()) as conn, conn.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO hub_repo (id, created_at, updated_at, slug, name, remote_url, local_path, workplan_dir,"
            " default_branch, status) VALUES (%s, now(), now(), %s, %s, '', %s, 'workplans', 'main', 'active')",
            [(uuid.uuid4(), slug, slug, str(path)) for slug, path in repos],
        )


def floor(root: Path) -> float:
    """The least an unchanged sweep must do without stamps: list, lstat, read and hash every file."""
    started = time.perf_counter()
    count = 0
    for folder in sorted(root.glob("*/workplans")):
        for directory in (folder, folder / "archived"):
            with os.scandir(directory) as listing:
                for entry in listing:
                    if entry.name.endswith(".md"):
                        entry.stat(follow_symlinks=False)
                        with open(entry.path, "rb") as handle:
                            hashlib.sha256(handle.read()).hexdigest()
                        count += 1
    assert count == FILES, count
    return time.perf_counter() - started


# The per-repo path as the sweep ran it before batches and stamps: each repo alone (its attempt, rows,
# sync written with their own queries), every file opened and hashed.
PER_REPO_PATH = """
import time
from hub import history
from hub.models import Repo
from hub.reconcile.runs import reconciliation_lock, run_repo
started = time.monotonic()
codes = set()
with history.door(history.Door.COMMAND), reconciliation_lock():
    for repo in Repo.objects.filter(status="active").order_by("slug"):
        codes.add(run_repo(repo, fix=True).exit_code)
print(f"{time.monotonic() - started:.3f} {max(codes)}")
"""

COUNT_QUERIES = """
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hub import history
from hub.reconcile import sweep
with history.door(history.Door.COMMAND), CaptureQueriesContext(connection) as captured:
    report = sweep(fix=True, max_seconds=None)
print(len(captured), report.exit_code)
"""

TABLES = ("hub_task", "hub_workstream", "hub_historicaltask", "hub_historicalworkstream")


def main() -> None:
    recreate_database()
    root = Path(tempfile.mkdtemp(prefix="statehub-bench-workplans-"))
    # The generated checkouts are the only place the command may read (DESIGN §8).
    os.environ["STATEHUB_REPO_ROOTS"] = str(root)
    try:
        repos = write_files(root)
        register(repos)
        floor_s = floor(root)
        first = manage("consistency_check", "--all", "--fix", "--json")
        repeat = manage("consistency_check", "--all", "--fix", "--json")
        report = manage("consistency_check", "--all", "--json")
        queries = manage("shell", "-c", COUNT_QUERIES)
        os.environ["WORKPLAN_SKIP_UNCHANGED_BY_STAT"] = "false"
        per_repo = manage("shell", "-c", PER_REPO_PATH)
        del os.environ["WORKPLAN_SKIP_UNCHANGED_BY_STAT"]
        first_body, repeat_body = json.loads(first.stdout), json.loads(repeat.stdout)
        report_body = json.loads(report.stdout)
        applied = sum(r["counts"]["applied"] for r in first_body["repos"])
        unchanged = sum(r["files_unchanged"] for r in repeat_body["repos"])
        with psycopg.connect(bench_url()) as conn:
            tasks = scalar(conn, "SELECT count(*) FROM hub_task")
            workstreams = scalar(conn, "SELECT count(*) FROM hub_workstream")
            stamped = scalar(conn, "SELECT count(*) FROM hub_workstream WHERE source_stamp <> ''")
            sizes = {t: scalar(conn, f"SELECT pg_total_relation_size('{t}')") for t in TABLES}
        print(f"workplan files: {FILES} in {REPOS} repos, tasks: {FILES * TASKS_PER_FILE}")
        print(
            f"after first run: {workstreams} workstreams, {tasks} tasks; {applied} changes applied; {stamped} stamped"
        )
        print(
            f"first run (--all --fix, apply everything): {first.seconds:7.2f} s "
            f"(in command {first_body['elapsed_s']:.2f} s, CPU {first.cpu_seconds:.1f} s)  exit {first.returncode}  "
            f"peak RSS {first.max_rss_mb:.0f} MiB   [target <= 120 s, <= 400 MiB]"
        )
        print(
            f"repeat (--all --fix, nothing changed):     {repeat.seconds:7.2f} s "
            f"(in command {repeat_body['elapsed_s']:.2f} s, CPU {repeat.cpu_seconds:.1f} s)  exit {repeat.returncode}  "
            f"peak RSS {repeat.max_rss_mb:.0f} MiB  unchanged {unchanged}/{FILES}   [target <= 5 s]"
        )
        print(
            f"repeat (--all, report only):               {report.seconds:7.2f} s "
            f"(in command {report_body['elapsed_s']:.2f} s, CPU {report.cpu_seconds:.1f} s)  exit {report.returncode}"
        )
        count, code = queries.stdout.split()[-2:]
        print(f"queries of one unchanged sweep (--fix):    {count} for {REPOS} repos (exit {code})")
        per_repo_s, per_repo_code = per_repo.stdout.split()[-2:]
        print(
            f"baseline: per-repo path, every file hashed: {per_repo.seconds:6.2f} s (in process {float(per_repo_s):.2f}"
            f" s, CPU {per_repo.cpu_seconds:.1f} s)  exit {per_repo_code}"
        )
        print(f"baseline: floor, lstat + read + SHA-256 of every file: {floor_s:.2f} s")
        check = manage("check")
        print(f"baseline: Django start-up (manage.py check): {check.seconds:5.2f} s (CPU {check.cpu_seconds:.1f} s)")
        per_million = 1_000_000 / max(tasks, 1)
        for table, size in sizes.items():
            print(f"size: {table}: {size / 2**20:7.1f} MiB, per million tasks {size * per_million / 2**20:7.1f} MiB")
    finally:
        shutil.rmtree(root, ignore_errors=True)
        if not os.environ.get("BENCH_KEEP_DATABASE"):
            drop_database()


if __name__ == "__main__":
    main()
