"""The hub's real processes for the fault and latency benchmarks, on private servers.

PostgreSQL (the embedded wheel), nats-server (the wheel) or a 3-node JetStream cluster, Redis
(`redis-server` on PATH), then gunicorn, a Celery worker and Celery beat with production
settings and short relay/back-off settings; and the reference consumer (`reference_consumer/`),
at which the fault suite counts what a consumer got.
"""

import asyncio
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nats
import nats.js.errors
import psycopg

from statehub import devservers
from statehub.devservers import NatsClusterNode

ROOT = Path(__file__).resolve().parent.parent
STREAM = "ACTIVITY_EVENTS"


class Stack:
    """PostgreSQL, Redis, NATS (one server or a cluster), gunicorn, a Celery worker and beat."""

    def __init__(
        self, workdir: Path, *, short_delivery_settings: bool = True, extra_environment: dict[str, str] | None = None
    ) -> None:
        """`short_delivery_settings`: the fault suite's relay every 2 s and back-off of 0.5-2 s, so
        outages play out in seconds; without them the hub runs with its production defaults.
        `extra_environment`: more variables for the hub's processes (e.g. the OTEL_* of tracing)."""
        self.workdir = workdir
        self.extra_environment = dict(extra_environment or {})
        self.short_delivery_settings = short_delivery_settings
        self.pg_dir = workdir / "postgres"
        self.database_url = devservers.start_postgres(self.pg_dir, database="statehub_faults")
        self.redis_port = devservers.free_port()
        self.redis: subprocess.Popen[bytes] | None = None
        self.start_redis()
        self.nats_port = devservers.free_port()
        self.nats: subprocess.Popen[bytes] | None = None
        self.nats_url = f"nats://127.0.0.1:{self.nats_port}"
        self.cluster: list[NatsClusterNode] = []
        self.start_nats()
        self.web_port = devservers.free_port()
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.token = ""
        self.consumer: subprocess.Popen[bytes] | None = None
        self.consumer_name = ""
        # Ids a scenario purged from the stream on purpose: they count as having reached it.
        self.purged_ids: set[str] = set()

    # --- backing services -------------------------------------------------------------------
    def start_redis(self) -> None:
        self.redis = subprocess.Popen(
            ["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(lambda: devservers.port_open(self.redis_port), 10, "redis-server did not start")

    def stop_redis(self) -> None:
        if self.redis is not None:
            devservers.stop_process(self.redis)

    def start_nats(self) -> None:
        _, self.nats = devservers.start_nats(self.workdir / "nats", port=self.nats_port)

    def stop_nats(self) -> None:
        if self.nats is not None:
            devservers.stop_process(self.nats)

    def restart_postgres(self) -> None:
        devservers.restart_postgres(self.pg_dir)

    # --- the hub's processes ----------------------------------------------------------------
    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            DJANGO_DEBUG="false",
            DJANGO_SECRET_KEY="faults-" + uuid.uuid4().hex * 2,
            DJANGO_ALLOWED_HOSTS="127.0.0.1",
            DJANGO_TRUST_PROXY_HEADERS="true",
            # The reference consumer reads the replay over plain HTTP on loopback.
            DJANGO_SECURE_SSL_REDIRECT="false",
            DJANGO_STATIC_ROOT=str(self.workdir / "static"),
            DATABASE_URL=self.database_url,
            NATS_URL=",".join(node.url for node in self.cluster) if self.cluster else self.nats_url,
            NATS_STREAM_REPLICAS="3" if self.cluster else "1",
            CELERY_BROKER_URL=f"redis://127.0.0.1:{self.redis_port}/0",
            CELERY_BEAT_SCHEDULE_FILENAME=str(self.workdir / "beat" / "schedule"),
            PROMETHEUS_MULTIPROC_DIR=str(self.workdir / "metrics"),
            LOG_LEVEL="WARNING",
        )
        if self.short_delivery_settings:
            env.update(
                EVENTS_RELAY_INTERVAL_S="2",
                EVENTS_MAX_ATTEMPTS="3",
                EVENTS_BACKOFF_BASE_S="0.5",
                EVENTS_BACKOFF_CAP_S="2",
                NATS_CONNECT_TIMEOUT_S="1",
                NATS_DOWN_BACKOFF_S="0.5",
                NATS_DOWN_BACKOFF_MAX_S="2",
            )
        env.update(self.extra_environment)
        return env

    def manage(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=self.environment(), capture_output=True, text=True
        )
        if done.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stderr[-3000:]}")
        return done.stdout

    def prepare(self) -> None:
        (self.workdir / "metrics").mkdir(exist_ok=True)
        (self.workdir / "static").mkdir(exist_ok=True)  # no static files are served here
        self.manage("migrate", "--noinput", "--verbosity", "0")
        self.manage(
            "shell", "-c", "from django.contrib.auth import get_user_model as u; u().objects.create_superuser('faults')"
        )
        self.token = self.manage("drf_create_token", "faults").split()[2]

    def start(self, kind: str) -> None:
        bin_dir = Path(sys.executable).parent
        gunicorn, celery = str(bin_dir / "gunicorn"), str(bin_dir / "celery")
        commands = {
            "web": [gunicorn, "statehub.wsgi", "--bind", f"127.0.0.1:{self.web_port}", "--workers", "2",
                    "--config", "python:statehub.gunicorn", "--timeout", "360"],
            "worker": [celery, "-A", "statehub", "worker", "--loglevel", "WARNING", "--concurrency", "2"],
            "beat": [celery, "-A", "statehub", "beat", "--loglevel", "WARNING"],
        }  # fmt: skip
        log = (self.workdir / f"{kind}.log").open("ab")
        self.processes[kind] = subprocess.Popen(
            commands[kind],
            cwd=ROOT,
            env=self.environment(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        if kind == "web":
            wait_for(lambda: devservers.port_open(self.web_port), 60, "gunicorn did not listen")

    def stop(self, kind: str, sig: int = signal.SIGTERM) -> None:
        end_process_group(self.processes.pop(kind, None), sig)

    def restart_beat_once_it_exits(self, seconds: float = 60.0) -> None:
        """Start beat again once it has exited, as its supervisor does in production (`Restart=always`).

        A PostgreSQL restart ends the session holding beat's lock, and beat exits at its next tick
        rather than go on without the lock (statehub/beat.py).
        """
        beat = self.processes.get("beat")
        if beat is None:
            return
        try:
            beat.wait(seconds)
        except subprocess.TimeoutExpired:
            print(f"beat has not exited {seconds:.0f} s after losing its database session", file=sys.stderr)
            return
        self.start("beat")

    def start_all(self) -> None:
        for kind in ("web", "worker", "beat"):
            self.start(kind)
        time.sleep(3)  # the worker and beat connect to Redis

    def stop_all(self) -> None:
        for kind in ("beat", "worker", "web"):
            self.stop(kind)

    # --- the reference consumer ---------------------------------------------------------------
    def consumer_files(self, name: str) -> tuple[Path, Path, Path]:
        """Its handled envelopes (one JSON line each), its log, its state file."""
        base = self.workdir / f"consumer-{name}"
        return base.with_suffix(".jsonl"), base.with_suffix(".log"), base.with_suffix(".sqlite")

    def start_consumer(self, name: str, *, crash_at: str = "") -> None:
        """Start the reference consumer with durable `faults-<name>`; `crash_at` makes it die at that recovery step."""
        output, log, state = self.consumer_files(name)
        env = {key: value for key, value in os.environ.items() if not key.startswith("REFERENCE_CONSUMER_")}
        if crash_at:
            env["REFERENCE_CONSUMER_CRASH_AT"] = crash_at
        nats_url = self.environment()["NATS_URL"]
        command = [
            sys.executable, "-m", "reference_consumer", "--nats", nats_url, "--hub", f"http://127.0.0.1:{self.web_port}",
            "--token", self.token, "--state", str(state), "--stream", STREAM, "--durable", f"faults-{name}",
        ]  # fmt: skip
        self.consumer_name = name
        self.consumer = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=output.open("ab"), stderr=log.open("ab"), start_new_session=True
        )

    def stop_consumer(self, sig: int = signal.SIGTERM) -> None:
        consumer, self.consumer = self.consumer, None
        end_process_group(consumer, sig)

    def wait_consumer_exit(self, seconds: float) -> int | None:
        """The consumer's exit code once it has ended by itself (a crash hook), None if it still runs."""
        consumer = self.consumer
        if consumer is None:
            return None
        try:
            return consumer.wait(seconds)
        except subprocess.TimeoutExpired:
            return None

    def consumer_handled(self, name: str) -> list[dict[str, Any]]:
        """Every envelope the consumer's handler got, in the order it got them (a torn last line is not one)."""
        output = self.consumer_files(name)[0]
        if not output.exists():
            return []
        handled = []
        for line in output.read_text(encoding="utf-8").splitlines():
            try:
                handled.append(json.loads(line))
            except ValueError:
                continue
        return handled

    def delete_durable(self, name: str) -> None:
        async def delete() -> None:
            nc = await nats.connect(servers=self.environment()["NATS_URL"].split(","), connect_timeout=2)
            try:
                await nc.jetstream(timeout=10).delete_consumer(STREAM, f"faults-{name}")
            except nats.js.errors.NotFoundError:
                pass
            finally:
                await nc.close()

        asyncio.run(delete())

    def purge_stream(self) -> None:
        """Empty the stream (as its max age would), remembering what it held for the stream-side count."""
        self.purged_ids.update(self.stream_ids())
        asyncio.run(self._purge())

    def positions(self) -> dict[str, tuple[str, int]]:
        """Event id → (aggregate, write position) of every outbox row: the order each aggregate's events must keep."""
        with psycopg.connect(self.database_url, connect_timeout=2) as conn:
            rows = conn.execute("SELECT id, aggregate, position FROM events_outboxevent")
            return {str(row[0]): (row[1], int(row[2])) for row in rows}

    def shutdown(self) -> None:
        self.stop_consumer()
        self.stop_all()
        for node in self.cluster:
            node.stop()
        self.stop_nats()
        self.stop_redis()
        devservers.stop_postgres(self.pg_dir)

    # --- what happened ----------------------------------------------------------------------
    def write(self, slug: str) -> int:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.web_port}/repos/",
            data=json.dumps({"slug": slug, "name": slug}).encode(),
            headers={
                "Authorization": f"Token {self.token}",
                "Content-Type": "application/json",
                "X-Forwarded-Proto": "https",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback URL built here
                return int(response.status)
        except urllib.error.HTTPError as error:
            return int(error.code)
        except OSError:
            return 0

    def outbox(self) -> dict[str, str]:
        """Event id → status of every outbox row (an empty dict while the database is away)."""
        try:
            with psycopg.connect(self.database_url, connect_timeout=2) as conn:
                return {str(row[0]): row[1] for row in conn.execute("SELECT id, status FROM events_outboxevent")}
        except psycopg.OperationalError:
            return {}

    def unpublished_before(self, moment: dt.datetime) -> int | None:
        """Outbox rows created before `moment` not yet published (None while the database is away)."""
        try:
            with psycopg.connect(self.database_url, connect_timeout=2) as conn:
                row = conn.execute(
                    "SELECT count(*) FROM events_outboxevent WHERE status <> 'published' AND created_at <= %s",
                    [moment],
                ).fetchone()
                return int(row[0]) if row else None
        except psycopg.OperationalError:
            return None

    def clear(self) -> None:
        self.purged_ids.clear()
        with psycopg.connect(self.database_url) as conn:
            conn.execute("DELETE FROM events_outboxevent")
        asyncio.run(self._purge())

    async def _purge(self) -> None:
        nc = await nats.connect(servers=self.environment()["NATS_URL"].split(","), connect_timeout=2)
        try:
            await nc.jetstream(timeout=10).purge_stream(STREAM)
        except nats.js.errors.NotFoundError:
            pass
        finally:
            await nc.close()

    def stream_ids(self) -> list[str]:
        """The envelope id of every message in the stream, in stream order (and those a scenario purged)."""

        async def read() -> list[str]:
            nc = await nats.connect(servers=self.environment()["NATS_URL"].split(","), connect_timeout=2)
            try:
                js = nc.jetstream(timeout=10)
                info = await js.stream_info(STREAM)
                ids = []
                for seq in range(info.state.first_seq, info.state.last_seq + 1):
                    if info.state.messages == 0:
                        break
                    try:
                        message = await js.get_msg(STREAM, seq)
                    except nats.js.errors.NotFoundError:
                        continue
                    ids.append(json.loads(message.data or b"{}").get("id", ""))
                return ids
            except nats.js.errors.NotFoundError:
                return []
            finally:
                await nc.close()

        try:
            return sorted(self.purged_ids) + asyncio.run(read())
        except Exception:
            return sorted(self.purged_ids)


def end_process_group(process: subprocess.Popen[bytes] | None, sig: int) -> None:
    """Send `sig` to a running process's group; SIGKILL it if it has not ended 30 s later."""
    if process is None or process.poll() is not None:
        return
    os.killpg(process.pid, sig)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def wait_for(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise RuntimeError(what)
