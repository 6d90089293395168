"""Deploy smoke run: web, worker and beat started with the exact commands docs/deploy.md shows.

The commands are read from the deploy guide's Procfile block, not copied here, so the guide and
this run cannot drift apart; the systemd units in the same guide must run the same commands.
Production settings (no debug, a secret, WhiteNoise's manifest storage, the multiprocess metrics
directory), the session's PostgreSQL and nats-server, and a real Redis.
"""

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model

from events.models import OutboxEvent
from statehub import devservers
from tests import childprocess
from tests.childprocess import wait_for
from tests.tokens import token_for

pytestmark = [pytest.mark.e2e, pytest.mark.nats, pytest.mark.django_db(transaction=True)]

ROOT = Path(settings.BASE_DIR)
DEPLOY_GUIDE = ROOT / "docs" / "deploy.md"
# A Redis database of its own: the worker from the guide consumes the default queue.
SMOKE_BROKER_DB = 12


def procfile() -> dict[str, str]:
    """The deploy guide's Procfile: process type → command line."""
    for block in re.findall(r"```[a-z]*\n(.*?)```", DEPLOY_GUIDE.read_text(), flags=re.DOTALL):
        lines = dict(re.findall(r"^([a-z]+): (.+)$", block, flags=re.MULTILINE))
        if {"web", "worker", "beat", "release"} <= lines.keys():
            return lines
    raise AssertionError(f"no Procfile block with web, worker, beat and release in {DEPLOY_GUIDE}")


def systemd_commands() -> dict[str, str]:
    """ExecStart of each systemd unit in the deploy guide, by unit name."""
    units = re.findall(
        r"# /etc/systemd/system/statehub-([a-z]+)\.service\n(.*?)```", DEPLOY_GUIDE.read_text(), flags=re.DOTALL
    )
    return {name: re.search(r"^ExecStart=(.+)$", body, flags=re.MULTILINE).group(1) for name, body in units}  # type: ignore[union-attr]


def reachable_redis() -> str:
    import redis

    base = os.environ.get("CELERY_BROKER_URL") or "redis://127.0.0.1:6379/14"
    url = re.sub(r"/\d*$", "", base.rstrip("/")) + f"/{SMOKE_BROKER_DB}"
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=2)
        client.flushdb()
    except Exception as exc:
        pytest.skip(f"No Redis reachable at {url} ({exc}); the deploy smoke run needs one.")
    return url


@dataclass
class Deployment:
    """The processes of one deployment, started from the guide's commands."""

    env: dict[str, str]
    logs: Path
    port: int
    token: str = ""
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def run(self, kind: str, *, name: str | None = None) -> subprocess.Popen[bytes]:
        with (self.logs / f"{name or kind}.log").open("ab") as log:
            process = subprocess.Popen(
                # As a Procfile runner does: the line through a shell (`exec` so signals reach a server).
                ["bash", "-c", procfile()[kind] if "&&" in procfile()[kind] else "exec " + procfile()[kind]],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.processes[name or kind] = process
        return process

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")[-4000:]

    def request(
        self, path: str, *, data: dict[str, Any] | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}",
            data=None if data is None else json.dumps(data).encode(),
            headers={
                # As the reverse proxy in front of gunicorn sends it (the guide trusts it there).
                "X-Forwarded-Proto": "https",
                "Content-Type": "application/json",
                **({"Authorization": f"Token {self.token}"} if self.token else {}),
                **(headers or {}),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback URL built here
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()


def stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        os.killpg(process.pid, sig)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture
def deployment(jetstream: Any, tmp_path: Path) -> Iterator[Deployment]:
    user = get_user_model().objects.create_user("deploy-smoke", is_staff=True, is_superuser=True)
    port = devservers.free_port()
    env = childprocess.environment(
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY="deploy-smoke-" + uuid.uuid4().hex * 2,
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        DJANGO_TRUST_PROXY_HEADERS="true",
        DJANGO_STATIC_ROOT=str(tmp_path / "static"),
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "metrics"),
        # A directory that does not exist yet, like var/ in a fresh checkout: beat makes it.
        CELERY_BEAT_SCHEDULE_FILENAME=str(tmp_path / "beat" / "state" / "celerybeat-schedule"),
        NATS_URL=jetstream.url,
        NATS_STREAM=jetstream.stream,
        CELERY_BROKER_URL=reachable_redis(),
        EVENTS_RELAY_INTERVAL_S="2",
        EVENTS_BACKOFF_BASE_S="0.5",
        EVENTS_BACKOFF_CAP_S="2",
        PORT=str(port),
    )
    (tmp_path / "metrics").mkdir()
    smoke = Deployment(env=env, logs=tmp_path, port=port, token=token_for(user))
    try:
        yield smoke
    finally:
        for process in smoke.processes.values():
            stop(process)


def test_the_systemd_units_run_the_procfile_commands() -> None:
    units = systemd_commands()

    assert set(units) == {"web", "worker", "beat"}
    for kind, command in units.items():
        assert command.removeprefix("/srv/statehub/.venv/bin/") == procfile()[kind].replace("$PORT", "8000")


def test_a_deployment_from_the_guide_serves_publishes_and_survives_a_worker_restart(
    deployment: Deployment, jetstream: Any, tmp_path: Path
) -> None:
    release = deployment.run("release")
    assert release.wait(300) == 0, deployment.log("release")
    assert (tmp_path / "static" / "staticfiles.json").exists()
    web, worker, beat = deployment.run("web"), deployment.run("worker"), deployment.run("beat")
    wait_for(lambda: devservers.port_open(deployment.port), 60, "gunicorn did not listen")
    wait_for(lambda: "ready" in deployment.log("worker"), 60, "the worker did not start")
    wait_for(lambda: "Holding the beat lock" in deployment.log("beat"), 60, "beat did not start")

    # /health is ok: database, NATS and the outbox.
    status, _, body = deployment.request("/health")
    assert (status, json.loads(body)["status"]) == (200, "ok"), body

    # A write's event reaches the stream through Redis and the Celery worker.
    status, _, body = deployment.request("/repos/", data={"slug": "smoke-first", "name": "Smoke"})
    assert status == 201, body
    first = OutboxEvent.objects.get()
    wait_for(
        lambda: jetstream.count() == 1, 60, "the first event did not reach the stream:\n" + deployment.log("worker")
    )
    assert jetstream.messages()[0].headers["Nats-Msg-Id"] == str(first.id)

    # Static files are the collected, hashed and compressed ones, cached for long.
    hashed = json.loads((tmp_path / "static" / "staticfiles.json").read_text())["paths"]["admin/css/base.css"]
    status, headers, _ = deployment.request(f"/static/{hashed}", headers={"Accept-Encoding": "gzip"})
    assert status == 200
    assert headers.get("Content-Encoding") == "gzip"
    assert "max-age=315360000" in headers.get("Cache-Control", "")
    _, _, login_page = deployment.request("/admin/login/")
    assert f"/static/{hashed}".encode() in login_page

    # /metrics on the internal port (plain HTTP, no forwarded header) shows the worker's publish counters.
    metrics = urllib.request.Request(
        f"http://127.0.0.1:{deployment.port}/metrics", headers={"Authorization": f"Token {deployment.token}"}
    )
    with urllib.request.urlopen(metrics, timeout=30) as response:  # noqa: S310 - loopback URL built here
        exposition = response.read().decode()
    published = re.search(r'^statehub_events_publish_attempts_total\{outcome="published"\} (\S+)$', exposition, re.M)
    assert published is not None and float(published.group(1)) >= 1, exposition[-2000:]
    assert "django_http_requests_total_by_method_total" in exposition

    # A second beat against the same database refuses to start.
    second_beat = deployment.run("beat", name="beat-2")
    assert second_beat.wait(60) != 0
    assert "Another celery beat already runs" in deployment.log("beat-2")
    assert beat.poll() is None

    # SIGTERM to the worker under a short bounded load loses and duplicates nothing.
    answers: list[int] = []

    def write_load() -> None:
        for n in range(40):
            answers.append(deployment.request("/repos/", data={"slug": f"smoke-{n}", "name": f"Smoke {n}"})[0])
            time.sleep(0.05)

    load = threading.Thread(target=write_load)
    load.start()
    wait_for(lambda: len(answers) >= 15, 60, "the load did not start")
    stop(worker)
    worker = deployment.run("worker", name="worker-2")
    load.join(120)

    assert answers == [201] * 40
    wait_for(lambda: jetstream.count() == 41, 120, "not every event reached the stream:\n" + deployment.log("worker-2"))
    ids = [message.headers["Nats-Msg-Id"] for message in jetstream.messages()]
    assert len(set(ids)) == len(ids) == 41
    assert set(ids) == {str(pk) for pk in OutboxEvent.objects.values_list("id", flat=True)}
    assert web.poll() is None
