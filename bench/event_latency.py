"""Response→event latency with a real worker, next to a bare nats-py publish on the same server.

    .venv/bin/python bench/event_latency.py [--rate 50] [--clients 4] [--seconds 60] [--tracing on]

Starts the processes of bench/_stack.py (gunicorn, a Celery worker and beat, Redis, nats-server,
PostgreSQL) with the hub's default delivery settings (relay every 30 s, not the fault suite's
2 s), then `--clients` threads write `POST /repos/` at `--rate` writes/s in all for
`--seconds`. A core-NATS subscriber on `org.statehub.>` in this process notes when each envelope
arrives; the latency of a write is arrival minus the moment its HTTP response was read (negative
when the event arrives before the response does). The baseline, in the same run against the same
server: a bare nats-py JetStream publish of an envelope-sized message at the same rate, timed from
the publish call to the subscriber's arrival. Prints p50/p90/p99 of both, and events not seen.
"""

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import nats  # noqa: E402

from bench._otlp_sink import OtlpSink  # noqa: E402
from bench._stack import Stack  # noqa: E402

SUBJECT_FILTER = "org.statehub.>"


class Subscriber:
    """A core-NATS subscription in its own thread; records the arrival time of every message by key."""

    def __init__(self, url: str, key: Any) -> None:
        self.url, self.key = url, key
        self.arrivals: dict[str, float] = {}
        self.ready = threading.Event()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)
        self.thread.start()
        self.ready.wait(10)

    async def _run(self) -> None:
        nc = await nats.connect(self.url)

        async def arrived(msg: Any) -> None:
            self.arrivals[self.key(msg)] = time.perf_counter()

        await nc.subscribe(SUBJECT_FILTER, cb=arrived)
        await nc.flush()
        self.ready.set()
        while not self.stop.is_set():
            await asyncio.sleep(0.05)
        await nc.drain()

    def close(self) -> None:
        time.sleep(2)  # stragglers
        self.stop.set()
        self.thread.join(10)


def percentiles(values: list[float]) -> str:
    if len(values) < 2:
        return "n/a"
    cuts = statistics.quantiles(values, n=100)
    return f"p50 {cuts[49] * 1000:6.1f} ms   p90 {cuts[89] * 1000:6.1f} ms   p99 {cuts[98] * 1000:6.1f} ms"


def hub_run(stack: Stack, rate: float, clients: int, seconds: float) -> tuple[list[float], int, int]:
    """Latencies of hub events (response → arrival), writes that failed, and events never seen."""
    subscriber = Subscriber(stack.nats_url, lambda msg: json.loads(msg.data)["attributes"]["repo_slug"])
    answered: dict[str, float] = {}
    failures = 0
    lock = threading.Lock()
    run = uuid.uuid4().hex[:6]
    ends = time.perf_counter() + seconds

    def client(number: int) -> None:
        nonlocal failures
        interval, sent = clients / rate, 0
        next_at = time.perf_counter()
        while next_at < ends:
            slug = f"lat-{run}-{number}-{sent}"
            status = stack.write(slug)
            with lock:
                if status == 201:
                    answered[slug] = time.perf_counter()
                else:
                    failures += 1
            sent += 1
            next_at += interval
            time.sleep(max(0.0, next_at - time.perf_counter()))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    subscriber.close()
    latencies = [subscriber.arrivals[slug] - at for slug, at in answered.items() if slug in subscriber.arrivals]
    return latencies, failures, len(answered) - len(latencies)


def bare_run(url: str, rate: float, seconds: float, size: int) -> list[float]:
    """nats-py JetStream publish of envelope-sized messages at `rate`/s: publish call → subscriber arrival."""
    subscriber = Subscriber(url, lambda msg: msg.headers["Nats-Msg-Id"])
    started: dict[str, float] = {}

    async def publish() -> None:
        nc = await nats.connect(url)
        js = nc.jetstream()
        ends = time.perf_counter() + seconds
        next_at = time.perf_counter()
        while next_at < ends:
            msg_id = str(uuid.uuid4())
            started[msg_id] = time.perf_counter()
            payload = json.dumps({"id": msg_id, "pad": "x" * size}).encode()
            await js.publish("org.statehub.bench.latency", payload, headers={"Nats-Msg-Id": msg_id})
            next_at += 1 / rate
            await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
        await nc.close()

    asyncio.run(publish())
    subscriber.close()
    return [subscriber.arrivals[key] - at for key, at in started.items() if key in subscriber.arrivals]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=50.0, help="writes per second in all (default 50)")
    parser.add_argument("--clients", type=int, default=4, help="client threads (default 4)")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of each run (default 60)")
    parser.add_argument(
        "--tracing",
        choices=("off", "on"),
        default="off",
        help="on: the hub traces every write (always_on sampler) to a local OTLP endpoint that discards them",
    )
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="statehub-latency-"))
    print(f"work directory (logs): {workdir}")
    sink = OtlpSink()
    # The hub's production delivery settings: the fault suite's relay every 2 s would take a worker
    # process from the events being timed every 2 s.
    stack = Stack(
        workdir, short_delivery_settings=False, extra_environment=sink.environment() if args.tracing == "on" else {}
    )
    sink.__enter__()
    try:
        stack.prepare()
        stack.start_all()
        stack.write("warm-up")
        time.sleep(2)
        hub, failures, unseen = hub_run(stack, args.rate, args.clients, args.seconds)
        bare = bare_run(stack.nats_url, args.rate, args.seconds, size=400)
    finally:
        stack.shutdown()
        sink.__exit__()
    print(
        f"{args.clients} clients, {args.rate:.0f} writes/s, {args.seconds:.0f} s; gunicorn 2 workers, Celery worker 2;"
        f" tracing {args.tracing}"
        + (f" ({sink.requests} OTLP posts, {sink.bytes} bytes of spans)" if args.tracing == "on" else "")
    )
    print(f"hub  response → event ({len(hub)} events): {percentiles(hub)}")
    print(f"bare publish  → event ({len(bare)} msgs):   {percentiles(bare)}")
    print(f"writes not answered 201: {failures}; answered events never seen by the subscriber: {unseen}")
    return 0 if hub and not unseen and not failures else 1


if __name__ == "__main__":
    sys.exit(main())
