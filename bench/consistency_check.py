"""Benchmark: `consistency_check --all --fix` on 1,000 generated workplan files (20,000 tasks), then again unchanged.

Prints the first (applying) run, the second (nothing changed) run and their ratio, plus two baselines
measured in the same run: parsing all files in-process, and the raw bulk INSERT of the same rows.
Uses its own database (BENCH_DATABASE, default statehub_bench_maint), created and dropped here.
Targets: first apply <= 10 s; second run >= 10 times faster.
"""

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

REPOS = int(os.environ.get("BENCH_REPOS", "10"))
FILES = int(os.environ.get("BENCH_FILES", "1000"))
TASKS_PER_FILE = int(os.environ.get("BENCH_TASKS_PER_FILE", "20"))
STATUSES = ["todo", "progress", "done", "wait", "in_progress"]
PRIORITIES = ["low", "medium", "high", "critical"]


def write_files(root: Path) -> list[tuple[str, Path]]:
    repos = []
    per_repo = FILES // REPOS
    number = 0
    for r in range(REPOS):
        slug = f"bench-repo-{r:02d}"
        folder = root / slug / "workplans"
        (folder / "archived").mkdir(parents=True)
        for i in range(per_repo):
            number += 1
            key = f"BEN-WP-{number:04d}"
            target = folder / "archived" if i % 10 == 0 else folder
            status = "completed" if i % 10 == 0 else "active"
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
    with psycopg.connect(bench_url()) as conn:
        for slug, path in repos:
            conn.execute(
                "INSERT INTO hub_repo (id, created_at, updated_at, slug, name, remote_url, local_path, workplan_dir,"
                " default_branch, status) VALUES (%s, now(), now(), %s, %s, '', %s, 'workplans', 'main', 'active')",
                [uuid.uuid4(), slug, slug, str(path)],
            )


def parse_baseline(repos: list[tuple[str, Path]]) -> float:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "statehub.settings")
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench-secret")
    import django

    django.setup()  # the workplan parser maps statuses through the transitions table, keyed by model
    from hub.workplans import parse_workplan, workplan_files

    started = time.perf_counter()
    count = 0
    for _, path in repos:
        for file in workplan_files(path / "workplans"):
            count += len(parse_workplan(file.read_bytes(), path=file.name).tasks)
    assert count == FILES * TASKS_PER_FILE, count
    return time.perf_counter() - started


def bulk_insert_baseline() -> float:
    """The raw cost of writing the same rows: one multi-row INSERT per table, rolled back."""
    with psycopg.connect(bench_url()) as conn:
        repo_id = scalar(conn, "SELECT id FROM hub_repo LIMIT 1")
        started = time.perf_counter()
        with conn.cursor() as cursor:
            ws_ids = [uuid.uuid4() for _ in range(FILES)]
            cursor.executemany(
                "INSERT INTO hub_workstream (id, created_at, updated_at, key, repo_id, title, owner, priority, status,"
                " source_path, source_hash) VALUES (%s, now(), now(), %s, %s, %s, 'bench', 1, 'active', %s, %s)",
                [(w, f"RAW-WP-{n}", repo_id, f"Raw {n}", f"p{n}", "0" * 64) for n, w in enumerate(ws_ids)],
            )
            cursor.executemany(
                "INSERT INTO hub_task (id, created_at, updated_at, key, workstream_id, title, status, priority,"
                ' "order", assignee, blocking_reason)'
                " VALUES (%s, now(), now(), %s, %s, %s, 'todo', 'low', %s, 'x', '')",
                [
                    (uuid.uuid4(), f"RAW-{n}-{t}", w, f"Raw task {t}", t)
                    for n, w in enumerate(ws_ids)
                    for t in range(TASKS_PER_FILE)
                ],
            )
        seconds = time.perf_counter() - started
        conn.rollback()
    return seconds


def main() -> None:
    recreate_database()
    root = Path(tempfile.mkdtemp(prefix="statehub-bench-workplans-"))
    # The generated checkouts are the only place the command may read (DESIGN §8).
    os.environ["STATEHUB_REPO_ROOTS"] = str(root)
    try:
        repos = write_files(root)
        register(repos)
        parse_s = parse_baseline(repos)
        insert_s = bulk_insert_baseline()
        first = manage("consistency_check", "--all", "--fix", "--json")
        second = manage("consistency_check", "--all", "--fix", "--json")
        report = manage("consistency_check", "--all", "--json")
        first_body, second_body = json.loads(first.stdout), json.loads(second.stdout)
        applied = sum(r["counts"]["applied"] for r in first_body["repos"])
        unchanged = sum(r["files_unchanged"] for r in second_body["repos"])
        with psycopg.connect(bench_url()) as conn:
            tasks = scalar(conn, "SELECT count(*) FROM hub_task")
            workstreams = scalar(conn, "SELECT count(*) FROM hub_workstream")
        print(f"workplan files: {FILES} in {REPOS} repos, tasks: {FILES * TASKS_PER_FILE}")
        print(f"after first run: {workstreams} workstreams, {tasks} tasks in the database; {applied} changes applied")
        print(
            f"first run  (--all --fix, apply everything): {first.seconds:6.2f} s  exit {first.returncode}  "
            f"peak RSS {first.max_rss_mb:.0f} MB   [target ≤ 10 s]"
        )
        print(
            f"second run (--all --fix, nothing changed):  {second.seconds:6.2f} s  exit {second.returncode}  "
            f"files skipped by hash: {unchanged}/{FILES}"
        )
        print(
            f"speed-up second vs first (process wall time): {first.seconds / second.seconds:5.1f} x   [target ≥ 10 x]"
        )
        first_work, second_work = first_body["elapsed_s"], second_body["elapsed_s"]
        print(
            f"time inside the command (sweep elapsed, without start-up): first {first_work:.2f} s, "
            f"second {second_work:.2f} s, speed-up {first_work / max(second_work, 1e-3):.1f} x"
        )
        print(f"report run (no --fix, clean):               {report.seconds:6.2f} s  exit {report.returncode}")
        print(f"baseline: parse all files in-process:       {parse_s:6.2f} s")
        print(f"baseline: raw INSERT of the same rows:      {insert_s:6.2f} s")
        print(f"baseline: Django start-up (manage.py check): {manage('check').seconds:5.2f} s")
    finally:
        shutil.rmtree(root, ignore_errors=True)
        if not os.environ.get("BENCH_KEEP_DATABASE"):
            drop_database()


if __name__ == "__main__":
    main()
