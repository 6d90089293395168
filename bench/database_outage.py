"""How long the hub takes to answer while its database refuses or hangs (DESIGN §6.11).

    .venv/bin/python bench/database_outage.py

Starts gunicorn (one worker, production settings) whose DATABASE_URL points first at a closed port
(refused) and then at a listener that accepts connections and never answers (hung), and times one
request to each kind of endpoint and to `/health`. The baseline, measured in the same run, is a
request that needs no database (a 404). Goal: every endpoint answers its JSON 503 within 4 s,
`/health` within 3 s. Exits 1 when an answer is not a 503 or misses its goal. tests/test_database_faults.py
holds the answers themselves (and that no worker is killed for its timeout); this script holds the time.
"""

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from statehub.devservers import free_port  # noqa: E402
from tests.network import silent_listener as hung_database  # noqa: E402

# The endpoints the test holds to their 503: the same list, timed here.
from tests.test_database_faults import REQUESTS  # noqa: E402

ENDPOINT_GOAL_S = 4.0
HEALTH_GOAL_S = 3.0


@contextlib.contextmanager
def hub(database_port: int) -> Iterator[str]:
    port = free_port()
    environment = {k: v for k, v in os.environ.items() if k not in {"NATS_URL", "CELERY_BROKER_URL"}}
    environment.pop("DJANGO_SETTINGS_MODULE", None)
    environment.update(
        DATABASE_URL=f"postgres://statehub@127.0.0.1:{database_port}/statehub",
        DJANGO_SECRET_KEY="bench-only-" + "x" * 50,
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        DJANGO_SECURE_SSL_REDIRECT="false",
    )
    command = [sys.executable, "-m", "gunicorn", "statehub.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "1"]
    process = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("gunicorn did not start") from None
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)


def timed(base: str, method: str, path: str) -> tuple[int, float]:
    request = urllib.request.Request(  # noqa: S310 - loopback
        base + path,
        data=b"{}" if method in ("POST", "PATCH") else None,
        method=method,
        headers={"Authorization": "Token " + "0" * 40, "Content-Type": "application/json"},
    )
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310 - loopback
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    seconds = time.monotonic() - started
    json.loads(raw)
    return status, seconds


def measure(label: str, database_port: int) -> bool:
    with hub(database_port) as base:
        timed(base, "GET", "/no-such-endpoint/")  # a warm worker, as in production
        _, baseline = timed(base, "GET", "/no-such-endpoint/")
        print(f"\n{label}: baseline (404, no database) {baseline:.3f} s")
        ok = True
        for method, path in [*REQUESTS, ("GET", "/health")]:
            status, seconds = timed(base, method, path)
            goal = HEALTH_GOAL_S if path == "/health" else ENDPOINT_GOAL_S
            met = status == 503 and seconds <= goal
            ok &= met
            print(f"  {method:5} {path:32} {status}  {seconds:6.2f} s  (goal ≤ {goal:g} s){'' if met else '  MISSED'}")
        return ok


def main() -> int:
    ok = measure("refused", free_port())
    with hung_database() as port:
        ok &= measure("hung", port)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
