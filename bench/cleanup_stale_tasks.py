"""Benchmark: `cleanup_stale_tasks` on 100,000 tasks of which 20,000 are stale: wall time and peak RSS.

Seeds a dedicated database (BENCH_DATABASE, default statehub_bench_maint; created and dropped here)
with 1,000 workstreams and 100,000 tasks: 10,000 open tasks in completed/archived workstreams
(`workstream_closed`), 10,000 open tasks flagged `missing_from_workplan_at` (`missing_from_workplan`),
and 80,000 that must be left alone. Runs the command in a child process and reads the child's peak
RSS from the kernel. Baselines from the same run: the raw bulk UPDATE + outbox INSERT of the same
20,000 rows (rolled back), the dry run, the idempotent second run, and Django's own start-up RSS.
Targets: <= 10 s and <= 200 MB.
"""

import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg

from bench._benchdb import bench_url, drop_database, manage, recreate_database, scalar

TOTAL = int(os.environ.get("BENCH_TASKS", "100000"))
STALE = int(os.environ.get("BENCH_STALE", "20000"))
WORKSTREAMS = 1000


def seed() -> None:
    """1,000 workstreams of 100 tasks; the first 100 workstreams closed (all their tasks open)."""
    per_ws = TOTAL // WORKSTREAMS
    closed_ws = (STALE // 2) // per_ws
    missing_every = (TOTAL - closed_ws * per_ws) // (STALE - closed_ws * per_ws)
    with psycopg.connect(bench_url()) as conn:
        conn.execute(
            "INSERT INTO hub_repo (id, created_at, updated_at, slug, name, remote_url, local_path, workplan_dir,"
            " default_branch, status) VALUES (gen_random_uuid(), now(), now(), 'bench', 'bench', '', '', 'workplans',"
            " 'main', 'active')"
        )
        conn.execute(
            "INSERT INTO hub_workstream (id, created_at, updated_at, key, repo_id, title, owner, priority, status,"
            " source_path, source_hash)"
            " SELECT gen_random_uuid(), now(), now(), 'BEN-WP-' || lpad(n::text, 4, '0'),"
            " (SELECT id FROM hub_repo), 'Workstream ' || n, '', n,"
            " CASE WHEN n <= %s THEN (CASE WHEN n %% 2 = 0 THEN 'completed' ELSE 'archived' END) ELSE 'active' END,"
            " '', '' FROM generate_series(1, %s) n",
            [closed_ws, WORKSTREAMS],
        )
        conn.execute(
            'INSERT INTO hub_task (id, created_at, updated_at, key, workstream_id, title, status, priority, "order",'
            " assignee, blocking_reason, missing_from_workplan_at)"
            " SELECT gen_random_uuid(), now(), now(), w.key || '-T' || t, w.id, 'Task ' || t,"
            "  (ARRAY['todo','progress','wait'])[1 + t %% 3], 'medium', t, '', '',"
            "  CASE WHEN w.status = 'active' AND (w.priority * %s + t) %% %s = 0 THEN now() END"
            " FROM hub_workstream w CROSS JOIN generate_series(1, %s) t",
            [per_ws, missing_every, per_ws],
        )
        conn.execute("ANALYZE")


STALE_WHERE = (
    "t.status IN ('wait','todo','progress') AND (w.status IN ('completed','archived')"
    " OR t.missing_from_workplan_at IS NOT NULL)"
)


def raw_baseline() -> tuple[int, float]:
    """The raw cost of the same change: one UPDATE and one INSERT ... SELECT of the outbox rows, rolled back."""
    with psycopg.connect(bench_url()) as conn:
        started = time.perf_counter()
        conn.execute(
            "INSERT INTO events_outboxevent (id, subject, envelope, status, attempts, next_attempt_at, last_error,"  # noqa: S608
            " created_at) SELECT gen_random_uuid(), 'org.statehub.task.stale',"
            " jsonb_build_object('task_key', t.key, 'reason', 'x'), 'pending', 0, now(), '', now()"
            f" FROM hub_task t JOIN hub_workstream w ON w.id = t.workstream_id WHERE {STALE_WHERE}"
        )
        cursor = conn.execute(
            "UPDATE hub_task t SET status = 'cancel' FROM hub_workstream w"  # noqa: S608
            f" WHERE w.id = t.workstream_id AND {STALE_WHERE}"
        )
        seconds = time.perf_counter() - started
        conn.rollback()
    return cursor.rowcount, seconds


def main() -> None:
    recreate_database()
    try:
        seed()
        with psycopg.connect(bench_url()) as conn:
            tasks = scalar(conn, "SELECT count(*) FROM hub_task")
            stale = scalar(
                conn,
                f"SELECT count(*) FROM hub_task t JOIN hub_workstream w ON w.id = t.workstream_id WHERE {STALE_WHERE}",  # noqa: S608
            )
        raw_rows, raw_s = raw_baseline()
        dry = manage("cleanup_stale_tasks", "--dry-run", "--json")
        first = manage("cleanup_stale_tasks", "--json")
        second = manage("cleanup_stale_tasks", "--json")
        startup = manage("check")
        body = json.loads(first.stdout)
        with psycopg.connect(bench_url()) as conn:
            events = scalar(conn, "SELECT count(*) FROM events_outboxevent WHERE subject = 'org.statehub.task.stale'")
            notes = scalar(conn, "SELECT count(*) FROM hub_progressevent")
        print(f"tasks: {tasks}, stale: {stale} ({json.loads(dry.stdout)['found']})")
        print(
            f"cleanup_stale_tasks: {first.seconds:6.2f} s, peak RSS {first.max_rss_mb:5.0f} MB, "
            f"exit {first.returncode}, "
            f"canceled {body['canceled']['total']}, task.stale events {events}, summary notes {notes}"
            "   [target <= 10 s, <= 200 MB]"
        )
        print(
            f"second run (idempotent): {second.seconds:6.2f} s, "
            f"canceled {json.loads(second.stdout)['canceled']['total']}"
        )
        print(
            f"baseline: --dry-run (counting only):            {dry.seconds:6.2f} s, peak RSS {dry.max_rss_mb:5.0f} MB"
        )
        print(f"baseline: raw UPDATE + outbox INSERT, {raw_rows} rows: {raw_s:6.2f} s")
        print(
            f"baseline: Django start-up (manage.py check):    {startup.seconds:6.2f} s, "
            f"peak RSS {startup.max_rss_mb:5.0f} MB"
        )
    finally:
        if not os.environ.get("BENCH_KEEP_DATABASE"):
            drop_database()


if __name__ == "__main__":
    main()
