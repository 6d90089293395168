"""Throughput and latency of the REST API under gunicorn on loopback, next to bare Django views, in one run.

Measures `POST /tasks/` against a bare view doing the same lookup and single INSERT (and against a bare
view doing all of DRF's work by hand: token, permission, the same service), `GET /workstreams/`
against a bare view running the same selector query, and event-recording writes (`POST /repos/`,
`POST /tasks/`) with NATS up and then stopped. Targets: DRF write ≥ 0.7 x bare; NATS stopped ≤ 1.1 x up.
With `--tracing`, a second gunicorn traces every request (OpenTelemetry, always_on sampler, spans
exported to a local OTLP endpoint that discards them) and the DRF write, the event-recording write
and the DRF read are measured on it too, interleaved with the rest: traced / untraced per round.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/statehub .venv/bin/python bench/api_throughput.py [--tracing]

It creates a throwaway database next to DATABASE_URL's, starts a private nats-server and gunicorn on
127.0.0.1, and removes all three at the end. Bounded by `--requests` per scenario.
"""

import argparse
import http.client
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._otlp_sink import OtlpSink  # noqa: E402
from statehub import devservers  # noqa: E402

WORKSTREAMS = 50
TASKS_PER_WORKSTREAM = 4


@dataclass
class Result:
    """Latencies (seconds) and wall time of one scenario."""

    name: str
    latencies: list[float]
    elapsed: float
    errors: int

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.elapsed

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]

    @classmethod
    def merge(cls, parts: list["Result"]) -> "Result":
        return cls(
            parts[0].name,
            [latency for part in parts for latency in part.latencies],
            sum(part.elapsed for part in parts),
            sum(part.errors for part in parts),
        )

    def line(self) -> str:
        return (
            f"{self.name:<38} {self.throughput:8.1f} req/s   p50 {self.percentile(0.5) * 1000:7.2f} ms"
            f"   p99 {self.percentile(0.99) * 1000:7.2f} ms   errors {self.errors}"
        )


def database_urls() -> tuple[str, str, str]:
    """The server's URL, the maintenance database URL and a throwaway bench database URL."""
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/statehub")
    parsed = urllib.parse.urlparse(base)
    name = f"statehub_bench_api_{os.getpid()}"
    return base, parsed._replace(path="/postgres").geturl(), parsed._replace(path=f"/{name}").geturl()


def admin_sql(maintenance_url: str, statement: str) -> None:
    import psycopg

    with psycopg.connect(maintenance_url, autocommit=True) as connection:
        connection.execute(statement)


def prepare_database(bench_url: str) -> str:
    """Migrate the bench database, seed workstreams and tasks, and return a writer's API token."""
    os.environ["DATABASE_URL"] = bench_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.api_settings"
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only-secret")
    import django

    django.setup()
    from django.contrib.auth.models import Permission, User
    from django.core.management import call_command
    from django.db import connection

    from hub.models import Domain, Repo, Task, Workstream
    from hub.tokens import token_create

    call_command("migrate", verbosity=0)
    user = User.objects.create_user("bench", password="bench-only-password")
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="hub"))
    domain = Domain.objects.create(slug="bench", name="Bench")
    repo = Repo.objects.create(slug="bench-repo", domain=domain)
    workstreams = Workstream.objects.bulk_create(
        Workstream(key=f"BENCH-WP-{n:04d}", repo=repo, title=f"Workstream {n}", status="active", priority=n)
        for n in range(WORKSTREAMS)
    )
    Task.objects.bulk_create(
        Task(key=f"{workstream.key}-T{t}", workstream=workstream, title="Seeded", status="todo")
        for workstream in workstreams
        for t in range(TASKS_PER_WORKSTREAM)
    )
    token = token_create(user=user, name="bench").secret
    connection.close()
    return token


def request(port: int, method: str, path: str, body: dict[str, object] | None, token: str | None) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Accept": "application/json"}
    payload = None
    if body is not None:
        payload = json.dumps(body)
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Token {token}"
    try:
        connection.request(method, path, body=payload, headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def run(
    name: str,
    port: int,
    make: Callable[[], tuple[str, str, dict[str, object] | None, str | None]],
    *,
    total: int,
    concurrency: int,
    expect: int,
) -> Result:
    """Send `total` requests from `concurrency` threads (after a short warm-up) and time each."""
    for _ in range(min(20, total)):
        request(port, *make())
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    remaining = iter(range(total))

    def worker() -> None:
        nonlocal errors
        while True:
            with lock:
                if next(remaining, None) is None:
                    return
                method, path, body, token = make()
            started = time.perf_counter()
            status = request(port, method, path, body, token)
            took = time.perf_counter() - started
            with lock:
                latencies.append(took)
                errors += status != expect

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return Result(name, latencies, time.perf_counter() - started, errors)


def start_gunicorn(port: int, workers: int, environment: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "statehub.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--log-level",
            "warning",
            "--chdir",
            str(ROOT),
        ],
        env=environment,
    )


def verdict(met: bool) -> str:
    return "met" if met else "NOT met"


def wait_for(port: int, deadline_s: float = 30.0) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        try:
            if request(port, "GET", "/health", None, None) in (200, 503):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("gunicorn did not come up")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--requests", type=int, default=800, help="requests per scenario, over all rounds (default 800)"
    )
    parser.add_argument("--concurrency", type=int, default=4, help="client threads (default 4)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers (default 2)")
    parser.add_argument("--rounds", type=int, default=4, help="interleaved rounds (default 4)")
    parser.add_argument("--tracing", action="store_true", help="also measure a gunicorn that traces every request")
    args = parser.parse_args()
    sink = OtlpSink().__enter__()
    traced: subprocess.Popen[bytes] | None = None

    _, maintenance_url, bench_url = database_urls()
    bench_name = urllib.parse.urlparse(bench_url).path.lstrip("/")
    admin_sql(maintenance_url, f'CREATE DATABASE "{bench_name}"')
    gunicorn: subprocess.Popen[bytes] | None = None
    nats_process: subprocess.Popen[bytes] | None = None
    store = tempfile.TemporaryDirectory(prefix="statehub-bench-nats-")
    try:
        token = prepare_database(bench_url)
        nats_url, nats_process = devservers.start_nats(Path(store.name))
        port = devservers.free_port()
        environment = devservers.environment_with(
            DATABASE_URL=bench_url,
            DJANGO_SETTINGS_MODULE="bench.api_settings",
            DJANGO_SECRET_KEY=os.environ["DJANGO_SECRET_KEY"],
            NATS_URL=nats_url,
            LOG_LEVEL="ERROR",
        )
        environment.pop("CELERY_BROKER_URL", None)
        for name in [name for name in environment if name.startswith("OTEL_")]:
            environment.pop(name)
        gunicorn = start_gunicorn(port, args.workers, environment)
        wait_for(port)
        traced_port = devservers.free_port()
        if args.tracing:
            traced = start_gunicorn(traced_port, args.workers, {**environment, **sink.environment()})
            wait_for(traced_port)

        counter = itertools.count()

        def task_body(path: str) -> Callable[[], tuple[str, str, dict[str, object] | None, str | None]]:
            def make() -> tuple[str, str, dict[str, object] | None, str | None]:
                n = next(counter)
                return "POST", path, {"key": f"B-{n}", "workstream": "BENCH-WP-0001", "title": f"Task {n}"}, token

            return make

        def repo_body() -> tuple[str, str, dict[str, object] | None, str | None]:
            return "POST", "/repos/", {"slug": f"r-{next(counter)}", "domain": "bench"}, token

        def get(path: str) -> Callable[[], tuple[str, str, dict[str, object] | None, str | None]]:
            return lambda: ("GET", path, None, token)

        per_round = max(20, args.requests // args.rounds)
        options = {"total": per_round, "concurrency": args.concurrency}
        print(
            f"gunicorn {args.workers} sync workers, {args.concurrency} client threads, {args.rounds} rounds x "
            f"{per_round} requests per scenario (scenarios interleaved in each round, so background load hits "
            f"all alike), {WORKSTREAMS} workstreams x {TASKS_PER_WORKSTREAM} tasks seeded, NATS {nats_url}\n"
        )
        scenarios: dict[str, tuple[str, Callable[[], tuple[str, str, dict[str, object] | None, str | None]], int]] = {
            "bare_write": ("bare view  POST /bare/tasks/", task_body("/bare/tasks/"), 201),
            "same_write": ("bare view  POST /bare/tasks-same-work/", task_body("/bare/tasks-same-work/"), 201),
            "drf_write": ("DRF        POST /tasks/", task_body("/tasks/"), 201),
            "bare_read": ("bare view  GET /bare/workstreams/", get("/bare/workstreams/"), 200),
            "drf_read": ("DRF        GET /workstreams/", get("/workstreams/"), 200),
            "repo_up": ("NATS up    POST /repos/ (event)", repo_body, 201),
            "task_up": ("NATS up    POST /tasks/", task_body("/tasks/"), 201),
            **(
                {
                    "traced_write": ("traced     POST /tasks/", task_body("/tasks/"), 201),
                    "traced_repo": ("traced     POST /repos/ (event)", repo_body, 201),
                    "traced_read": ("traced     GET /workstreams/", get("/workstreams/"), 200),
                }
                if args.tracing
                else {}
            ),
            "repo_down": ("NATS down  POST /repos/ (event)", repo_body, 201),
            "task_down": ("NATS down  POST /tasks/", task_body("/tasks/"), 201),
        }
        rounds: list[dict[str, Result]] = []
        nats_port = int(nats_url.rsplit(":", 1)[1])
        for _ in range(args.rounds):
            measured: dict[str, Result] = {}
            for key, (name, make, expect) in scenarios.items():
                if key == "repo_down":
                    devservers.stop_process(nats_process)
                target = traced_port if key.startswith("traced_") else port
                measured[key] = run(name, target, make, expect=expect, **options)
            _, nats_process = devservers.start_nats(Path(store.name), port=nats_port)
            rounds.append(measured)
        results = {key: Result.merge([measured[key] for measured in rounds]) for key in scenarios}
        for result in results.values():
            print(result.line())

        def ratio(
            numerator: Callable[[dict[str, Result]], float], denominator: Callable[[dict[str, Result]], float]
        ) -> float:
            """The median over rounds of a per-round ratio."""
            return statistics.median(numerator(measured) / denominator(measured) for measured in rounds)

        write_ratio = ratio(lambda m: m["drf_write"].throughput, lambda m: m["bare_write"].throughput)
        same_ratio = ratio(lambda m: m["drf_write"].throughput, lambda m: m["same_write"].throughput)
        read_ratio = ratio(lambda m: m["drf_read"].throughput, lambda m: m["bare_read"].throughput)
        down_repo = ratio(lambda m: m["repo_down"].percentile(0.5), lambda m: m["repo_up"].percentile(0.5))
        down_task = ratio(lambda m: m["task_down"].percentile(0.5), lambda m: m["task_up"].percentile(0.5))
        down_repo_p99 = ratio(lambda m: m["repo_down"].percentile(0.99), lambda m: m["repo_up"].percentile(0.99))
        failures = sum(result.errors for result in results.values())
        write_met = write_ratio >= 0.7
        nats_met = down_repo <= 1.1
        print()
        print("medians over rounds:")
        print(f"DRF write / bare write (lookup + INSERT): {write_ratio:.2f}  target >= 0.70: {verdict(write_met)}")
        print(f"DRF write / bare write doing the same work (token, permission, service): {same_ratio:.2f}")
        print(f"DRF read  / bare read (same selector query, no auth): {read_ratio:.2f}")
        print(
            f"NATS down / up, POST /repos/ p50 {down_repo:.2f}, p99 {down_repo_p99:.2f}; POST /tasks/ p50 "
            f"{down_task:.2f}  target <= 1.10: {verdict(nats_met)}"
        )
        print(f"unexpected status codes: {failures}")
        if args.tracing:
            for label, plain, with_tracing in (
                ("POST /tasks/", "drf_write", "traced_write"),
                ("POST /repos/ (event)", "repo_up", "traced_repo"),
                ("GET /workstreams/", "drf_read", "traced_read"),
            ):
                speed = statistics.median(m[with_tracing].throughput / m[plain].throughput for m in rounds)
                p50 = statistics.median(m[with_tracing].percentile(0.5) / m[plain].percentile(0.5) for m in rounds)
                print(f"traced / untraced {label}: throughput {speed:.2f}, p50 {p50:.2f}")
            print(f"spans exported: {sink.requests} OTLP posts, {sink.bytes} bytes")
        met = write_met and nats_met and failures == 0
        return 0 if met else 1
    finally:
        for server in (gunicorn, traced):
            if server is not None:
                server.terminate()
                server.wait(timeout=30)
        sink.__exit__()
        if nats_process is not None:
            devservers.stop_process(nats_process)
        store.cleanup()
        from django.db import connections

        connections.close_all()
        admin_sql(maintenance_url, f'DROP DATABASE IF EXISTS "{bench_name}" WITH (FORCE)')


if __name__ == "__main__":
    sys.exit(main())
