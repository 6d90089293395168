"""Shared set-up of the maintenance benchmarks: a dedicated, throwaway PostgreSQL database."""

import os
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parent.parent
SERVER_URL = os.environ.get("BENCH_SERVER_URL", "postgres://postgres@127.0.0.1:5432/postgres")
BENCH_DB = os.environ.get("BENCH_DATABASE", "statehub_bench_maint")


def bench_url() -> str:
    return SERVER_URL.rsplit("/", 1)[0] + "/" + BENCH_DB


def recreate_database() -> None:
    """Drop and create the bench database, then migrate it."""
    with psycopg.connect(SERVER_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{BENCH_DB}"')
    manage("migrate", "--verbosity", "0")


def drop_database() -> None:
    with psycopg.connect(SERVER_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')


def environment() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=bench_url(),
        DJANGO_SECRET_KEY=env.get("DJANGO_SECRET_KEY", "bench-secret"),
        # One line per outbox row would dominate the timing; the figures are about the command's own work.
        LOG_LEVEL="ERROR",
    )
    env.pop("NATS_URL", None)
    env.pop("CELERY_BROKER_URL", None)
    return env


@dataclass
class Run:
    seconds: float
    max_rss_mb: float
    returncode: int
    stdout: str
    cpu_seconds: float = 0.0  # the child's user + system CPU time: less bent by a loaded machine than wall time


def manage(*args: str) -> Run:
    """Run `manage.py ARGS` in a child process; return its wall time and its own peak RSS."""
    out_path = Path("/tmp") / f"bench-{os.getpid()}-{time.monotonic_ns()}.out"
    with out_path.open("w") as out:
        started = time.perf_counter()
        process = subprocess.Popen([sys.executable, str(ROOT / "manage.py"), *args], stdout=out, env=environment())
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    text = out_path.read_text()
    out_path.unlink()
    # ru_maxrss is in KiB on Linux; wait4 gives this child's own peak (RUSAGE_CHILDREN would be the max so far).
    return Run(seconds, usage.ru_maxrss / 1024, process.returncode, text, usage.ru_utime + usage.ru_stime)


def children_max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def scalar(conn: psycopg.Connection, sql: str) -> Any:
    row = conn.execute(sql).fetchone()
    assert row is not None
    return row[0]
