"""Reads at size: every list endpoint, MCP list tool and admin changelist on a small and a large hub.

Seeds two databases with SQL (`generate_series`, seconds rather than minutes):

- small: 5 domains, 10 repos, 100 workstreams, 1,000 tasks, 100 decisions, 200 progress entries,
  5,000 published outbox rows and 30 pending;
- large: 100 domains, 5,000 repos, 20,000 workstreams, 1,000,000 tasks, 20,000 decisions, 100,000 progress
  entries, 1,000,000 published outbox rows and 3,000 pending (some due, some backing off) and 10 failed
  (a hundred times the organisation of 2026); `--large-workstreams 4000` seeds a fifth of it but the
  outbox (4,000 workstreams, 200,000 tasks), a quicker run.

Then starts one gunicorn per database (the real settings, throttling off) and times each request
`--requests` times, alternating small and large so that background load on the machine hits both
alike; `/health` is the same-run floor. MCP list tools are timed in-process (one child process per
database, the tool function plus the JSON encoding an agent receives), and the relay's claim query is
checked with EXPLAIN on the large database. Prints p50 at both sizes, the ratio and each MCP answer's
size, and exits 1 when a bound is missed: p50 at the large size ≤ 50 ms and ≤ 2 x its small-size p50;
MCP answers ≤ 64 KB by default; the claim query an index scan.

    .venv/bin/python bench/scale.py                 # BENCH_SERVER_URL=postgres://postgres@127.0.0.1:5432/postgres
    .venv/bin/python bench/scale.py --keep          # keep both databases for a re-run with --reuse
    .venv/bin/python bench/scale.py --large-workstreams 4000   # a quicker run at 200,000 tasks

The databases are `<prefix>_small` and `<prefix>_large` (`--prefix`, default `statehub_bench_scale`);
they are dropped at the end unless `--keep`.
"""

import argparse
import dataclasses
import datetime as dt
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from statehub import devservers  # noqa: E402

SERVER_URL = os.environ.get("BENCH_SERVER_URL", "postgres://postgres@127.0.0.1:5432/postgres")
SECRET = os.environ.get("DJANGO_SECRET_KEY", "bench-only-secret")
# The admin pages need the collected static files production serves (hashed names, whitenoise).
STATIC_ROOT = Path(tempfile.gettempdir()) / "statehub-bench-scale-static"

BOUND_MS = 50.0
BOUND_RATIO = 2.0
MCP_MAX_BYTES = 64 * 1024


@dataclass(frozen=True)
class Size:
    """How much of everything one seeded database holds."""

    name: str
    domains: int
    repos: int
    workstreams: int
    tasks_per_workstream: int
    decisions: int
    progress_events: int
    outbox_published: int
    outbox_pending: int
    outbox_failed: int


# Small has 100 repos and decisions too, so its admin changelists show a full page of 100 rows like large.
SMALL = Size("small", 5, 100, 100, 10, 100, 200, 5_000, 30, 1)
LARGE = Size("large", 100, 5_000, 20_000, 50, 20_000, 100_000, 1_000_000, 3_000, 10)


def large_size(workstreams: int) -> Size:
    """The large set with `workstreams` workstreams and domains, repos, decisions and progress in proportion."""
    scale = workstreams / LARGE.workstreams
    return dataclasses.replace(
        LARGE,
        domains=max(1, round(LARGE.domains * scale)),
        repos=max(1, round(LARGE.repos * scale)),
        workstreams=workstreams,
        decisions=max(1, round(LARGE.decisions * scale)),
        progress_events=max(1, round(LARGE.progress_events * scale)),
    )


WORKSTREAM_STATUSES = ["proposed", "ready", "active", "blocked", "backlog", "completed", "archived"]
TASK_STATUSES = ["wait", "todo", "progress", "done", "cancel"]
TASK_PRIORITIES = ["low", "medium", "high", "critical"]
DECISION_STATUSES = ["open", "escalated", "resolved", "superseded"]
SUBJECTS = [
    "org.statehub.repo.registered",
    "org.statehub.workstream.completed",
    "org.statehub.decision.resolved",
    "org.statehub.domain.goal.activated",
    "org.statehub.task.stale",
]

A_DAY_AGO = (dt.datetime.now(dt.UTC) - dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
ELEVEN_DAYS_AGO = (dt.datetime.now(dt.UTC) - dt.timedelta(days=11)).strftime("%Y-%m-%dT%H:%M:%SZ")
# The creation times of the stream's former and current incarnations the seeded rows were published to.
FORMER_STREAM = "2026-01-05T10:00:00.123456+00:00"
CURRENT_STREAM = "2026-06-01T08:30:00.654321+00:00"
FORMER_STREAM_Q, CURRENT_STREAM_Q = (quote(moment) for moment in (FORMER_STREAM, CURRENT_STREAM))

# Terms every seeded task matches ("Task 7 of WS-WP-00003: do the next concrete thing", key WS-WP-00003-T007);
# an eighth narrows it: WP-000 to the tasks of the first 99 workstreams (4,950 large, 990 small).
SEVEN_TERMS = "Task+the+next+concrete+thing+ing+con"

# The requests timed over HTTP: (label, path, needs the admin session instead of the token).
HTTP_TARGETS: list[tuple[str, str, bool]] = [
    ("GET /health (floor)", "/health", False),
    ("GET /workstreams/", "/workstreams/", False),
    ("GET /workstreams/?status=active", "/workstreams/?status=active", False),
    ("GET /next-steps/", "/next-steps/", False),
    ("GET /next-steps/?repo=r0001", "/next-steps/?repo=r0001", False),
    ("GET /next-steps/?domain=d001", "/next-steps/?domain=d001", False),
    ("GET /next-steps/?workstream=WS-WP-00002", "/next-steps/?workstream=WS-WP-00002", False),  # active
    ("GET /tasks/", "/tasks/", False),
    ("GET /tasks/?workstream=WS-WP-00003", "/tasks/?workstream=WS-WP-00003", False),
    ("GET /tasks/?status=todo", "/tasks/?status=todo", False),
    ("GET /decisions/", "/decisions/", False),
    ("GET /decisions/?status=open", "/decisions/?status=open", False),
    ("GET /repos/", "/repos/", False),
    ("GET /domains/", "/domains/", False),
    ("GET /domain-goals/", "/domain-goals/", False),
    ("GET /progress-events/", "/progress-events/", False),
    ("GET /events/", "/events/", False),
    ("GET /events/?type=…workstream.completed", "/events/?type=org.statehub.workstream.completed", False),
    ("GET /events/?status=pending", "/events/?status=pending", False),
    ("GET /events/?status=published", "/events/?status=published", False),
    # Reads of later features: search, every kind of ordering, history, the replay from a time.
    ("GET /tasks/?search=<no match>", "/tasks/?search=nothing-matches", False),
    ("GET /tasks/?search=T006", "/tasks/?search=T006", False),
    # Bounded search (at most 8 terms of 3+ letters or digits): the widest searches it accepts, and one it refuses.
    ("GET /tasks/?search=<8 terms, 4,950 match>", f"/tasks/?search={SEVEN_TERMS}+WP-000", False),
    ("GET /tasks/?search=<8 terms, one workstream>", f"/tasks/?search={SEVEN_TERMS}+WP-00003-", False),
    ("GET /tasks/?search=<8 terms, no match>", f"/tasks/?search={SEVEN_TERMS}+nothing-matches", False),
    ("GET /tasks/?search=<1,900 terms> (400)", "/tasks/?search=" + "+".join(["a"] * 1900), False),
    ("GET /tasks/?ordering=title", "/tasks/?ordering=title", False),
    ("GET /tasks/?ordering=-priority", "/tasks/?ordering=-priority", False),
    ("GET /tasks/?ordering=-updated_at", "/tasks/?ordering=-updated_at", False),
    ("GET /progress-events/?ordering=event_type", "/progress-events/?ordering=event_type", False),
    ("GET /workstreams/WS-WP-00003/history/", "/workstreams/WS-WP-00003/history/", False),
    ("GET /events/?after=0", "/events/?after=0", False),
    (
        "GET /events/?after=<seq>&stream_created=<current>",
        f"/events/?after=1000&stream_created={CURRENT_STREAM_Q}",
        False,
    ),
    (
        "GET /events/?since=<11 days ago>&stream_created=<former>",
        f"/events/?since={ELEVEN_DAYS_AGO}&stream_created={FORMER_STREAM_Q}",
        False,
    ),
    ("GET /events/?since=<a day ago>&subject=…", f"/events/?since={A_DAY_AGO}&subject=org.statehub.task.stale", False),
    ("admin workstreams", "/admin/hub/workstream/", True),
    ("admin tasks", "/admin/hub/task/", True),
    ("admin repos", "/admin/hub/repo/", True),
    ("admin decisions", "/admin/hub/decision/", True),
    ("admin domains", "/admin/hub/domain/", True),
    ("admin domain goals", "/admin/hub/domaingoal/", True),
    ("admin progress events", "/admin/hub/progressevent/", True),
    ("admin outbox", "/admin/events/outboxevent/", True),
    ("admin tasks ?q=<no match>", "/admin/hub/task/?q=nothing-matches", True),
    ("admin tasks ?q=<8 terms, no match>", f"/admin/hub/task/?q={SEVEN_TERMS}+nothing-matches", True),
    ("admin tasks ?q=<1,900 terms> (refused)", "/admin/hub/task/?q=" + "+".join(["a"] * 1900), True),
    ("admin outbox ?q=stale", "/admin/events/outboxevent/?q=stale", True),
]

# What a request answers when it is not 200: a search past the bounds is refused before the database sees it.
EXPECTED_STATUS = {"GET /tasks/?search=<1,900 terms> (400)": 400}

# The MCP list tools timed in-process, with the arguments of each call.
MCP_TARGETS: list[tuple[str, str, dict[str, Any]]] = [
    ("get_next_steps()", "get_next_steps", {}),
    ('get_next_steps(repo="r0001")', "get_next_steps", {"repo": "r0001"}),
    ('get_next_steps(domain="d001")', "get_next_steps", {"domain": "d001"}),
    ("list_workstreams()", "list_workstreams", {}),
    ('list_workstreams(status="active")', "list_workstreams", {"status": "active"}),
    ('list_tasks("WS-WP-00003")', "list_tasks", {"workstream_id": "WS-WP-00003"}),
    ("list_pending_decisions()", "list_pending_decisions", {}),
    ("get_recent_progress()", "get_recent_progress", {}),
]
# A workstream has 10 tasks in small and 50 in large: its whole list is a 5 x larger answer, not a
# slower read. Timed with limit=10 for the ratio (same answer at both sizes); the default call above
# is held to the 64 KB and 50 ms bounds only.
MCP_SAME_ANSWER = {'list_tasks("WS-WP-00003")': ('list_tasks("WS-WP-00003", limit=10)', {"limit": 10})}


# --- seeding -------------------------------------------------------------------------------------


def database_url(name: str) -> str:
    return SERVER_URL.rsplit("/", 1)[0] + "/" + name


def admin_sql(statement: str) -> None:
    with psycopg.connect(SERVER_URL, autocommit=True) as connection:
        connection.execute(statement)


def database_exists(name: str) -> bool:
    with psycopg.connect(SERVER_URL, autocommit=True) as connection:
        row = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
    return row is not None


def child_environment(url: str) -> dict[str, str]:
    environment = devservers.environment_with(
        DATABASE_URL=url,
        DJANGO_SETTINGS_MODULE="bench.api_settings",
        DJANGO_SECRET_KEY=SECRET,
        DJANGO_DEBUG="false",
        DJANGO_STATIC_ROOT=str(STATIC_ROOT),
        LOG_LEVEL="ERROR",
    )
    for name in ("NATS_URL", "CELERY_BROKER_URL"):
        environment.pop(name, None)
    return environment


def seed(url: str, size: Size) -> None:
    """Fill a migrated, empty database with `size` rows, all in SQL, then ANALYZE it."""
    statuses = {
        "ws": WORKSTREAM_STATUSES,
        "task": TASK_STATUSES,
        "prio": TASK_PRIORITIES,
        "dec": DECISION_STATUSES,
        "subj": SUBJECTS,
    }
    arrays = {name: "ARRAY[" + ",".join(f"'{word}'" for word in words) + "]" for name, words in statuses.items()}
    statements = [
        f"""INSERT INTO hub_domain (id, created_at, updated_at, slug, name, description, status)
        SELECT gen_random_uuid(), now(), now(), 'd' || lpad(n::text, 3, '0'), 'Domain ' || n, '', 'active'
        FROM generate_series(1, {size.domains}) AS n""",  # noqa: S608
        """INSERT INTO hub_domaingoal (id, created_at, updated_at, key, domain_id, title, description, status,
            activated_at)
        SELECT gen_random_uuid(), now(), now(), 'goal-' || d.slug, d.id, 'Goal of ' || d.name, '', 'active', now()
        FROM hub_domain AS d""",
        f"""INSERT INTO hub_repo (id, created_at, updated_at, slug, name, domain_id, remote_url, local_path,
            workplan_dir, default_branch, status, last_synced_at)
        SELECT gen_random_uuid(), now(), now(), 'r' || lpad(n::text, 4, '0'), 'Repo ' || n,
            (SELECT id FROM hub_domain WHERE slug = 'd' || lpad((1 + n % {size.domains})::text, 3, '0')),
            'git@example.org:org/r' || n || '.git', '', 'workplans', 'main', 'active', now()
        FROM generate_series(1, {size.repos}) AS n""",  # noqa: S608
        f"""INSERT INTO hub_workstream (id, created_at, updated_at, key, repo_id, domain_goal_id, title, owner,
            priority, status, completed_at, source_path, source_hash, missing_from_repo_at)
        SELECT gen_random_uuid(), now() - n * interval '1 minute', now(), 'WS-WP-' || lpad(n::text, 5, '0'),
            r.id, g.id, 'Workstream number ' || n || ' of the seeded organisation', 'owner-' || (n % 17),
            n % 100, ({arrays["ws"]})[1 + n % 7],
            CASE WHEN n % 7 = 5 THEN now() END, 'workplans/WS-WP-' || lpad(n::text, 5, '0') || '-seeded.md', '', NULL
        FROM generate_series(1, {size.workstreams}) AS n
        JOIN hub_repo AS r ON r.slug = 'r' || lpad((1 + n % {size.repos})::text, 4, '0')
        LEFT JOIN hub_domaingoal AS g ON g.domain_id = r.domain_id AND n % 3 = 0""",  # noqa: S608
        # The task's copies of its workstream's status and priority (`Task`), written here as the
        # triggers that keep them (off for the load, below) would.
        f"""INSERT INTO hub_task (id, created_at, updated_at, key, workstream_id, title, status, priority, "order",
            assignee, blocking_reason, last_activity_at, missing_from_workplan_at, workstream_status,
            workstream_priority)
        SELECT gen_random_uuid(),
            -- Each task its own moment, as the services write them (one timestamp per saved row).
            now() - (w.n * {size.tasks_per_workstream} + t) * interval '1 second',
            now() - (w.n * {size.tasks_per_workstream} + t) * interval '10 milliseconds',
            w.key || '-T' || lpad(t::text, 3, '0'), w.id,
            'Task ' || t || ' of ' || w.key || ': do the next concrete thing',
            ({arrays["task"]})[1 + (w.n * 7 + t) % 5],
            ({arrays["prio"]})[1 + (w.n + t) % 4], t, CASE WHEN t % 3 = 0 THEN 'agent-' || (t % 5) ELSE '' END, '',
            now() - t * interval '1 hour', NULL, w.status, w.priority
        FROM (SELECT id, key, status, priority, row_number() OVER (ORDER BY key) AS n FROM hub_workstream) AS w,
            generate_series(1, {size.tasks_per_workstream}) AS t""",  # noqa: S608
        f"""INSERT INTO hub_decision (id, created_at, updated_at, key, title, question, options, status, repo_id,
            workstream_id, rationale, chosen_option, decided_by, resolved_at)
        SELECT gen_random_uuid(), now() - n * interval '10 minutes', now(), 'DEC-' || lpad(n::text, 5, '0'),
            'Decision ' || n, 'Which way should workstream ' || w.key || ' go?', '["keep", "drop", "defer"]'::jsonb,
            ({arrays["dec"]})[1 + n % 4], w.repo_id, w.id,
            CASE WHEN n % 4 = 2 THEN 'Seeded.' ELSE '' END, CASE WHEN n % 4 = 2 THEN 'keep' ELSE '' END,
            CASE WHEN n % 4 = 2 THEN 'seed' ELSE '' END,
            CASE WHEN n % 4 = 2 THEN now() - (n % 30) * interval '1 day' END
        FROM generate_series(1, {size.decisions}) AS n
        JOIN hub_workstream AS w ON w.key = 'WS-WP-' || lpad((1 + n % {size.workstreams})::text, 5, '0')""",  # noqa: S608
        f"""INSERT INTO hub_progressevent (id, created_at, updated_at, event_type, summary, detail, workstream_id,
            task_id, author)
        SELECT gen_random_uuid(), now() - n * interval '1 minute', now(),
            (ARRAY['note','milestone','blocker','insight'])[1 + n % 4], 'Progress note ' || n, 'Seeded detail.',
            w.id, NULL, 'agent-' || (n % 5)
        FROM generate_series(1, {size.progress_events}) AS n
        JOIN hub_workstream AS w ON w.key = 'WS-WP-' || lpad((1 + n % {size.workstreams})::text, 5, '0')""",  # noqa: S608
        outbox_insert(size.outbox_published, "published", arrays["subj"]),
        outbox_insert(size.outbox_pending, "pending", arrays["subj"]),
        outbox_insert(size.outbox_failed, "failed", arrays["subj"]),
    ]
    with psycopg.connect(url, autocommit=True) as connection:
        # Secondary indexes are dropped for the load and rebuilt after it from their own definitions
        # (the same names, so the schema stays the migrations'): building an index once is several
        # times faster than updating it row by row. Indexes behind constraints stay.
        indexes = connection.execute(
            """SELECT i.indexname, i.indexdef FROM pg_indexes AS i
            WHERE i.schemaname = 'public' AND i.tablename = ANY(%s)
              AND NOT EXISTS (SELECT 1 FROM pg_constraint AS c WHERE c.conname = i.indexname)""",
            [["hub_task", "hub_workstream", "hub_decision", "hub_progressevent", "events_outboxevent"]],
        ).fetchall()
        for name, _ in indexes:
            connection.execute(f'DROP INDEX "{name}"')
        # Row triggers (the task's copy of its workstream, the foreign keys' checks) are off for the
        # load: the statements write consistent rows, and a trigger per row of a million costs minutes.
        connection.execute("SET session_replication_role = replica")
        for statement in statements:
            connection.execute(statement)
        connection.execute("SET session_replication_role = DEFAULT")
        for _, definition in indexes:
            connection.execute(definition)
        connection.execute("VACUUM ANALYZE")


def outbox_insert(count: int, status: str, subjects: str) -> str:
    """Rows recorded one second apart (the newest now); envelopes shaped like the real ones (~400 bytes).

    The oldest tenth of the published rows went to a former incarnation of the stream (deleted and
    created again), the rest to the current one, whose sequences start again at 1.
    """
    published = status == "published"
    return f"""
    INSERT INTO events_outboxevent (id, subject, aggregate, envelope, status, attempts, next_attempt_at,
        published_at, stream_seq, stream_created, last_error, created_at)
    SELECT e.id, e.subject, 'repo:r' || e.n,
        jsonb_build_object('id', e.id, 'type', e.subject, 'version', '1.0',
            'timestamp', to_char(e.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
            'publisher', 'state-hub',
            'attributes', jsonb_build_object('repo_id', gen_random_uuid(), 'repo_slug', 'r' || e.n,
                'domain_slug', 'd001', 'remote_url', 'git@example.org:org/r' || e.n || '.git',
                'local_path', '', 'name', 'Repo ' || e.n)),
        '{status}', {"0" if published else "CASE WHEN e.n % 2 = 0 THEN 0 ELSE 3 END"},
        {"NULL" if published else "now() + ((e.n % 600) - 300) * interval '1 second'"},
        {"e.at + interval '1 second'" if published else "NULL"},
        {f"CASE WHEN e.n <= {count // 10} THEN e.n ELSE e.n - {count // 10} END" if published else "NULL"},
        {
        f"CASE WHEN e.n <= {count // 10} THEN '{FORMER_STREAM}'::timestamptz ELSE '{CURRENT_STREAM}'::timestamptz END"
        if published
        else "NULL"
    },
        {"''" if published else "'nats: timeout'"},
        e.at
    FROM (SELECT n, gen_random_uuid() AS id, ({subjects})[1 + n % 5] AS subject,
                 now() - ({count} - n) * interval '1 second' {"- interval '1 hour'" if published else ""} AS at
          FROM generate_series(1, {count}) AS n) AS e
    """  # noqa: S608 - every value is generated here, none comes from outside


def prepare(prefix: str, large: Size, *, reuse: bool) -> dict[str, str]:
    """Create, migrate and seed both databases (or reuse them); return their URLs by size name."""
    urls = {size.name: database_url(f"{prefix}_{size.name}") for size in (SMALL, large)}
    if reuse and all(database_exists(f"{prefix}_{size.name}") for size in (SMALL, large)):
        print("Reusing the seeded databases.")
        return urls
    template = f"{prefix}_template"
    for name in (template, f"{prefix}_small", f"{prefix}_large"):
        admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin_sql(f'CREATE DATABASE "{template}"')
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "migrate", "--verbosity", "0"],
        env=child_environment(database_url(template)),
        check=True,
    )
    print(f"migrated a template database in {time.perf_counter() - started:.1f} s")
    for size in (SMALL, large):
        admin_sql(f'CREATE DATABASE "{prefix}_{size.name}" TEMPLATE "{template}"')
        started = time.perf_counter()
        seed(urls[size.name], size)
        print(
            f"seeded {size.name}: {size.workstreams:,} workstreams, {size.workstreams * size.tasks_per_workstream:,} "
            f"tasks, {size.decisions:,} decisions, {size.outbox_published + size.outbox_pending:,} outbox rows "
            f"in {time.perf_counter() - started:.1f} s (SQL, with VACUUM ANALYZE)"
        )
    admin_sql(f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)')
    return urls


# --- child processes: credentials and in-process MCP timing --------------------------------------


def child(mode: str, requests: int) -> None:
    """Run inside a child whose DATABASE_URL names one seeded database; print one JSON line."""
    import django

    django.setup()
    if mode == "credentials":
        from django.contrib.auth.models import User
        from django.contrib.sessions.backends.db import SessionStore

        from hub.models import ApiToken
        from hub.tokens import token_create

        user, _ = User.objects.get_or_create(username="bench", defaults={"is_staff": True, "is_superuser": True})
        session = SessionStore()
        session["_auth_user_id"] = str(user.pk)
        session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
        session["_auth_user_hash"] = user.get_session_auth_hash()
        session.create()
        ApiToken.objects.filter(user=user, name="bench").delete()
        token = token_create(user=user, name="bench").secret
        print(json.dumps({"token": token, "session": session.session_key}))
        return

    import pydantic_core
    from django.db import connection

    from events.relay import _CLAIM_SQL
    from hub.mcp import tools

    if mode == "plan":
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN " + _CLAIM_SQL.format(only=""), {"now": "now", "limit": 500})
            print(json.dumps([row[0] for row in cursor.fetchall()]))
        return
    # mode "mcp": answer one timed tool call per line of stdin ({"tool", "arguments"}) on stdout.
    for line in sys.stdin:
        request = json.loads(line)
        tool = getattr(tools, request["tool"])
        started = time.perf_counter()
        # The SDK sends the result twice: as structured content and as this indented text copy.
        answer = pydantic_core.to_json(tool(**request["arguments"]), fallback=str, indent=2)
        took = time.perf_counter() - started
        print(json.dumps({"seconds": took, "bytes": len(answer)}), flush=True)


def time_mcp(
    urls: dict[str, str], requests: int, mcp_targets: list[tuple[str, str, dict[str, Any]]]
) -> dict[str, dict[str, dict[str, float]]]:
    """Time each MCP call in one child per database, alternating children call by call."""
    children = {
        name: subprocess.Popen(
            [sys.executable, __file__, "--child", "mcp"],
            env=child_environment(url),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for name, url in urls.items()
    }

    def call(name: str, tool: str, arguments: dict[str, Any]) -> dict[str, float]:
        child = children[name]
        assert child.stdin is not None and child.stdout is not None
        child.stdin.write(json.dumps({"tool": tool, "arguments": arguments}) + "\n")
        child.stdin.flush()
        answer: dict[str, float] = json.loads(child.stdout.readline())
        return answer

    targets = list(mcp_targets)
    targets += [
        (same_label, tool, {**arguments, **extra})
        for label, tool, arguments in mcp_targets
        if label in MCP_SAME_ANSWER
        for same_label, extra in [MCP_SAME_ANSWER[label]]
    ]
    results: dict[str, dict[str, dict[str, float]]] = {name: {} for name in children}
    try:
        for label, tool, arguments in targets:
            sizes = {}
            for name in children:
                for _ in range(3):  # warm-up: connections, caches, the first query plans
                    sizes[name] = call(name, tool, arguments)["bytes"]
            times: dict[str, list[float]] = {name: [] for name in children}
            for _ in range(requests):
                for name in children:
                    times[name].append(call(name, tool, arguments)["seconds"])
            for name in children:
                results[name][label] = {"p50": statistics.median(times[name]), "bytes": sizes[name]}
    finally:
        for child in children.values():
            assert child.stdin is not None
            child.stdin.close()
            child.wait(30)
    return results


def run_child(url: str, mode: str, requests: int) -> Any:
    output = subprocess.run(
        [sys.executable, __file__, "--child", mode, "--requests", str(requests)],
        env=child_environment(url),
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(output.stdout.strip().splitlines()[-1])


# --- HTTP timing ---------------------------------------------------------------------------------


@dataclass
class Server:
    """One gunicorn serving one seeded database, with the credentials to read it."""

    size: str
    port: int
    process: subprocess.Popen[bytes]
    token: str
    session: str
    latencies: dict[str, list[float]] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)

    def get(self, path: str, *, admin: bool) -> tuple[int, int, float]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        headers = {"Accept": "application/json"}
        if admin:
            headers["Cookie"] = f"sessionid={self.session}"
        else:
            headers["Authorization"] = f"Token {self.token}"
        try:
            started = time.perf_counter()
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            body = response.read()
            took = time.perf_counter() - started
        finally:
            connection.close()
        return response.status, len(body), took


def start_gunicorn(url: str, workers: int) -> tuple[int, subprocess.Popen[bytes]]:
    port = devservers.free_port()
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "gunicorn", "statehub.wsgi:application"),
            *("--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--log-level", "warning"),
            *("--chdir", str(ROOT)),
        ],
        env=child_environment(url),
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("gunicorn exited during start-up")
        if devservers.port_open(port):
            return port, process
        time.sleep(0.2)
    devservers.stop_process(process)
    raise SystemExit("gunicorn did not come up within 60 s")


def time_http(servers: list[Server], requests: int, targets: list[tuple[str, str, bool]]) -> list[str]:
    """Time every HTTP target on every server, alternating servers request by request."""
    problems = []
    for label, path, admin in targets:
        for server in servers:
            for _ in range(3):  # warm-up: connections, caches, the first query plans
                status, _, _ = server.get(path, admin=admin)
            if status != EXPECTED_STATUS.get(label, 200):
                problems.append(f"{label} answered {status} on the {server.size} database")
            server.latencies[label] = []
        for _ in range(requests):
            for server in servers:
                _, length, took = server.get(path, admin=admin)
                server.latencies[label].append(took)
                server.sizes[label] = length
    return problems


# --- report --------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=25, help="timed requests per target and size (default 25)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers per server (default 2)")
    parser.add_argument("--prefix", default="statehub_bench_scale", help="database name prefix")
    parser.add_argument("--keep", action="store_true", help="keep the seeded databases")
    parser.add_argument("--reuse", action="store_true", help="reuse databases kept by an earlier --keep run")
    parser.add_argument(
        "--only",
        action="append",
        metavar="TEXT",
        help="time only the requests and MCP calls whose label contains TEXT (repeatable; /health always)",
    )
    parser.add_argument(
        "--large-workstreams",
        type=int,
        default=LARGE.workstreams,
        metavar="N",
        help=f"workstreams of the large set, 50 tasks each (default {LARGE.workstreams:,}); the rest in proportion",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.requests)
        return 0

    http_targets, mcp_targets = HTTP_TARGETS, MCP_TARGETS
    if args.only:
        http_targets = [t for t in HTTP_TARGETS if t[0] == HTTP_TARGETS[0][0] or any(o in t[0] for o in args.only)]
        mcp_targets = [t for t in MCP_TARGETS if any(o in t[0] for o in args.only)]
    started = time.perf_counter()
    load_before = os.getloadavg()
    if args.large_workstreams < 1:
        parser.error("--large-workstreams takes a positive number")
    large_set = large_size(args.large_workstreams)
    urls = prepare(args.prefix, large_set, reuse=args.reuse)
    subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "collectstatic", "--noinput", "--verbosity", "0"],
        env=child_environment(urls["small"]),
        check=True,
    )
    servers: list[Server] = []
    try:
        for size in (SMALL, large_set):
            credentials = run_child(urls[size.name], "credentials", 0)
            port, process = start_gunicorn(urls[size.name], args.workers)
            servers.append(Server(size.name, port, process, credentials["token"], credentials["session"]))
        problems = time_http(servers, args.requests, http_targets)
    finally:
        for server in servers:
            devservers.stop_process(server.process)
    mcp = time_mcp(urls, args.requests, mcp_targets)
    plan: list[str] = run_child(urls["large"], "plan", 0)
    if not args.keep:
        for size in (SMALL, large_set):
            admin_sql(f'DROP DATABASE IF EXISTS "{args.prefix}_{size.name}" WITH (FORCE)')

    small, large = servers
    print(
        f"\ngunicorn {args.workers} sync workers per database, {args.requests} sequential requests per target and "
        f"size (alternating), p50 in ms; bounds: large ≤ {BOUND_MS:.0f} ms and ≤ {BOUND_RATIO:.0f} x small\n"
    )
    print(f"{'request':<44} {'small':>8} {'large':>8} {'ratio':>6}  {'large body':>10}  verdict")
    missed = list(problems)

    def line(
        label: str, small_s: float, large_s: float, extra: str, size_bound: bool = True, ratio_bound: bool = True
    ) -> None:
        ratio = large_s / small_s
        met = large_s * 1000 <= BOUND_MS and (ratio <= BOUND_RATIO or not ratio_bound) and size_bound
        if not met:
            missed.append(label)
        verdict = "met" if met else "NOT met"
        print(f"{label:<44} {small_s * 1000:8.1f} {large_s * 1000:8.1f} {ratio:6.2f}  {extra:>10}  {verdict}")

    for label, _, _ in http_targets:
        small_p50 = statistics.median(small.latencies[label])
        large_p50 = statistics.median(large.latencies[label])
        line(label, small_p50, large_p50, f"{large.sizes[label] / 1024:.1f} KB")
    print("\nMCP tools, in-process (tool function + the SDK's indented JSON text of the answer), default arguments:")
    for label, _, _ in mcp_targets:
        answer = mcp["large"][label]["bytes"]
        line(
            label,
            mcp["small"][label]["p50"],
            mcp["large"][label]["p50"],
            f"{answer / 1024:.1f} KB",
            size_bound=answer <= MCP_MAX_BYTES,
            ratio_bound=label not in MCP_SAME_ANSWER,
        )
        if label in MCP_SAME_ANSWER:
            same = MCP_SAME_ANSWER[label][0]
            line(
                same,
                mcp["small"][same]["p50"],
                mcp["large"][same]["p50"],
                f"{mcp['large'][same]['bytes'] / 1024:.1f} KB",
            )
    print("\nRelay claim query on the large database (EXPLAIN):\n  " + "\n  ".join(plan))
    if any("Seq Scan" in row for row in plan) or not any("Index Scan" in row for row in plan):
        missed.append("relay claim query is not an index scan")
    load_after = os.getloadavg()
    print(
        f"\nTotal time {time.perf_counter() - started:.0f} s; load average (1 min) {load_before[0]:.1f} before, "
        f"{load_after[0]:.1f} after, on {os.cpu_count()} CPUs."
    )
    if missed:
        print("Bounds missed: " + "; ".join(missed))
        return 1
    print("Every bound met.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
