"""Fault suite: the real processes under a steady run of writes while one part of the system fails.

    .venv/bin/python bench/faults.py [--quick] [--only NAME ...]

Starts its own PostgreSQL (the embedded wheel), nats-server (the wheel), Redis (`redis-server`
on PATH), then gunicorn, a Celery worker and Celery beat with production settings and short
relay/back-off settings (`EVENTS_MAX_ATTEMPTS=3`, back-off 0.5-2 s, relay every 2 s). Each
scenario writes `POST /repos/` from 4 clients at about 10 writes/s, injects its fault, heals it,
and waits until every committed event is in the stream. Per scenario it prints: writes answered
2xx, 5xx answers, other failures (connection errors), events committed, distinct events in the
stream, duplicates in the stream, events lost, "backlog s" (from the heal until every event
committed before it is in the stream) and "all out s" (from the last write until every event is).

Every scenario also runs the reference consumer (`reference_consumer/`, a fresh durable and state
each time) and counts at it, once it has caught up: events its handler saw, committed events it
never saw (lost), events handed to the handler more than once (after its dedupe), and events handled
after a later event of the same aggregate (out of order).

Scenarios: NATS down (60 s; with these settings longer than the whole back-off schedule), Redis
down, the worker killed with SIGKILL mid-run, PostgreSQL restarted mid-run, a 3-node JetStream
cluster (stream at 3 replicas) losing its stream leader, and three of the consumer's own: the
consumer killed with SIGKILL and down for 30 s; its durable deleted while it is stopped and
recovered by its crash-safe replay; and the same with the consumer killed in the middle of that
replay (`REFERENCE_CONSUMER_CRASH_AT=mid_replay`; the stream is purged first, so what it missed
is only at the hub), then started again. `--quick` shortens the
outages. Exits 1 when any scenario lost, duplicated or reordered an event (in the stream or at the
consumer) or answered a 5xx.
"""

import argparse
import asyncio
import datetime as dt
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import nats  # noqa: E402

from bench._stack import STREAM, Stack  # noqa: E402
from statehub import devservers  # noqa: E402
from statehub.devservers import NatsClusterNode  # noqa: E402

CLIENTS = 4
WRITES_PER_SECOND = 10


@dataclass
class Result:
    name: str
    writes: int = 0
    server_errors: int = 0
    other_failures: int = 0
    committed: int = 0
    in_stream: int = 0
    duplicates: int = 0
    lost: int = 0
    backlog_s: float | None = None
    delivery_s: float | None = None
    # Counted at the reference consumer's handler.
    seen: int = 0
    consumer_lost: int = 0
    consumer_duplicates: int = 0
    out_of_order: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        delivered = self.backlog_s is not None and self.delivery_s is not None
        at_consumer = self.consumer_lost == 0 and self.consumer_duplicates == 0 and self.out_of_order == 0
        return self.server_errors == 0 and self.duplicates == 0 and self.lost == 0 and delivered and at_consumer


def run_scenario(stack: Stack, name: str, fault: Callable[[], Any], heal: Callable[[], Any], outage_s: float) -> Result:
    """Write before, during and after the fault; wait for full delivery (stream and consumer); count."""
    stack.clear()
    stack.start_consumer(name)
    result = Result(name)
    statuses: Counter[int] = Counter()
    stop_writing = threading.Event()
    lock = threading.Lock()

    def client(number: int) -> None:
        sent = 0
        while not stop_writing.is_set():
            status = stack.write(f"{name}-{number}-{sent}")
            with lock:
                statuses[status] += 1
            sent += 1
            time.sleep(CLIENTS / WRITES_PER_SECOND)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    time.sleep(5)
    fault()
    time.sleep(outage_s)
    heal()
    healed, healed_at = time.monotonic(), dt.datetime.now(dt.UTC)
    # Writing goes on for 5 s; meanwhile, how long until the backlog committed before the heal is out?
    deadline = healed + 180
    while time.monotonic() < deadline:
        backlog = stack.unpublished_before(healed_at)
        if backlog == 0:
            result.backlog_s = time.monotonic() - healed
            break
        time.sleep(0.2)
    time.sleep(max(0.0, healed + 5 - time.monotonic()))
    stop_writing.set()
    last_write = time.monotonic()
    for thread in threads:
        thread.join()

    result.writes = sum(count for status, count in statuses.items() if 200 <= status < 300)
    result.server_errors = sum(count for status, count in statuses.items() if status >= 500)
    result.other_failures = sum(count for status, count in statuses.items() if status == 0 or 300 <= status < 500)
    if result.server_errors or result.other_failures:
        result.notes.append(
            "answers: " + ", ".join(f"{status or 'no answer'} x{n}" for status, n in sorted(statuses.items()))
        )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        rows = stack.outbox()
        if rows and all(status == "published" for status in rows.values()):
            result.delivery_s = time.monotonic() - last_write
            break
        time.sleep(0.5)
    rows = stack.outbox()
    ids = stack.stream_ids()
    result.committed = len(rows)
    result.in_stream = len(set(ids))
    result.duplicates = len(ids) - len(set(ids))
    result.lost = len(set(rows) - set(ids))
    not_published = Counter(status for status in rows.values() if status != "published")
    if not_published:
        result.notes.append(f"not published: {dict(not_published)}")
    count_at_consumer(stack, name, set(rows), result)
    return result


def count_at_consumer(stack: Stack, name: str, committed: set[str], result: Result) -> None:
    """Wait (up to 3 minutes) until the consumer's handler saw every committed event, then count what it got."""
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if committed <= {envelope.get("id") for envelope in stack.consumer_handled(name)}:
            break
        time.sleep(0.5)
    time.sleep(2)  # anything handled twice shows up now, not after the count
    stack.stop_consumer()
    stack.delete_durable(name)
    handled = [str(envelope.get("id")) for envelope in stack.consumer_handled(name)]
    positions = stack.positions()
    result.seen = len(set(handled) & committed)
    result.consumer_lost = len(committed - set(handled))
    result.consumer_duplicates = len(handled) - len(set(handled))
    latest: dict[str, int] = {}
    for event_id in dict.fromkeys(handled):  # first time each event was handled, in order
        aggregate, position = positions.get(event_id, ("", 0))
        if not aggregate:
            continue
        if position < latest.get(aggregate, 0):
            result.out_of_order += 1
        latest[aggregate] = max(position, latest.get(aggregate, 0))


def stop_consumer_and_delete_durable(stack: Stack) -> None:
    """The consumer stopped, its durable deleted meanwhile (expired, removed by hand): it must recover by replay."""
    stack.stop_consumer()
    stack.delete_durable(stack.consumer_name)


def crash_mid_replay_then_restart(stack: Stack) -> None:
    """Start the consumer so that it dies in the middle of its replay, then start it again."""
    name = stack.consumer_name
    # Everything written while the consumer was down is in the stream by now: empty it, so the
    # consumer's recovery has to replay from the hub, and it dies in the middle of that replay.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and stack.unpublished_before(dt.datetime.now(dt.UTC)) != 0:
        time.sleep(0.2)
    stack.purge_stream()
    stack.start_consumer(name, crash_at="mid_replay")
    code = stack.wait_consumer_exit(60)
    if code is None:
        stack.stop_consumer()
        raise RuntimeError("the consumer did not crash in its replay (was a replay owed?)")
    stack.start_consumer(name)


def cluster_scenario(stack: Stack, outage_s: float) -> Result:
    """Move the stack to a 3-node cluster (stream at 3 replicas) and kill the stream leader mid-run."""
    stack.stop_all()
    stack.stop_nats()
    stack.cluster = devservers.start_nats_cluster(stack.workdir / "cluster", size=3)
    devservers.wait_for_jetstream([node.url for node in stack.cluster])
    stack.start_all()
    # The stream at 3 replicas, before the consumer looks for it.
    stack.manage("ensure_stream")
    victim: list[NatsClusterNode] = []

    def kill_leader() -> None:
        leader = asyncio.run(stream_leader(stack))
        victim.extend(node for node in stack.cluster if node.name == leader)
        for node in victim:
            node.kill()

    def restart_node() -> None:
        for node in victim:
            node.start()

    result = run_scenario(stack, "cluster-leader-killed", kill_leader, restart_node, outage_s)
    result.notes.append(f"killed node: {victim[0].name if victim else 'none found'} (the stream leader)")
    return result


async def stream_leader(stack: Stack) -> str:
    nc = await nats.connect(servers=[node.url for node in stack.cluster], connect_timeout=2)
    try:
        info = await nc.jetstream(timeout=5).stream_info(STREAM)
        return str(info.cluster.leader) if info.cluster else ""
    finally:
        await nc.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="shorter outages (15 s instead of 60 s for NATS)")
    parser.add_argument("--only", nargs="*", default=None, help="run only these scenarios")
    args = parser.parse_args()
    if shutil.which("redis-server") is None:
        print("bench/faults.py needs redis-server on PATH (the Celery broker).", file=sys.stderr)
        return 2
    long_outage = 15.0 if args.quick else 60.0
    short_outage = 8.0 if args.quick else 20.0
    consumer_outage = 10.0 if args.quick else 30.0
    workdir = Path(tempfile.mkdtemp(prefix="statehub-faults-"))
    print(f"work directory (logs): {workdir}")
    stack = Stack(workdir)
    results: list[Result] = []
    try:
        stack.prepare()
        stack.start_all()
        scenarios: list[tuple[str, Callable[[], Any], Callable[[], Any], float]] = [
            ("nats-down", stack.stop_nats, stack.start_nats, long_outage),
            ("redis-down", stack.stop_redis, stack.start_redis, short_outage),
            ("worker-kill-9", lambda: stack.stop("worker", signal.SIGKILL), lambda: stack.start("worker"), 3.0),
            ("postgres-restart", stack.restart_postgres, stack.restart_beat_once_it_exits, 0.0),
            (
                "consumer-down",
                lambda: stack.stop_consumer(signal.SIGKILL),
                lambda: stack.start_consumer(stack.consumer_name),
                consumer_outage,
            ),
            (
                "consumer-durable-deleted",
                lambda: stop_consumer_and_delete_durable(stack),
                lambda: stack.start_consumer(stack.consumer_name),
                short_outage,
            ),
            (
                "consumer-killed-mid-replay",
                lambda: stop_consumer_and_delete_durable(stack),
                lambda: crash_mid_replay_then_restart(stack),
                short_outage,
            ),
        ]
        for name, fault, heal, outage in scenarios:
            if args.only is None or name in args.only:
                print(f"-- {name} ...", flush=True)
                results.append(run_scenario(stack, name, fault, heal, outage))
        if args.only is None or "cluster-leader-killed" in args.only:
            print("-- cluster-leader-killed ...", flush=True)
            results.append(cluster_scenario(stack, short_outage))
    finally:
        stack.shutdown()

    print()
    print(
        f"{CLIENTS} clients, ~{WRITES_PER_SECOND} writes/s; NATS outage {long_outage:.0f} s, "
        f"Redis {short_outage:.0f} s, consumer down {consumer_outage:.0f} s; "
        "the columns after 'all out s' are counted at the reference consumer"
    )
    widths = [27, 7, 5, 6, 10, 10, 6, 5, 10, 10, 6, 6, 6, 6]
    titles = [
        "scenario", "writes", "5xx", "other", "committed", "in stream", "dupes", "lost", "backlog s", "all out s",
        "seen", "lost", "dupes", "order",
    ]  # fmt: skip

    def row(cells: list[Any]) -> str:
        first, *rest = zip(cells, widths, strict=True)
        return str(first[0]).ljust(first[1]) + "".join(str(cell).rjust(width) for cell, width in rest)

    print(row(titles))
    for r in results:
        counts = [r.writes, r.server_errors, r.other_failures, r.committed, r.in_stream, r.duplicates, r.lost]
        times = ["never" if t is None else f"{t:.1f}" for t in (r.backlog_s, r.delivery_s)]
        at_consumer = [r.seen, r.consumer_lost, r.consumer_duplicates, r.out_of_order]
        print(row([r.name, *counts, *times, *at_consumer]))
        for note in r.notes:
            print(f"    {note}")
    return 0 if results and all(r.clean for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
