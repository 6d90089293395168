"""`manage.py tail_events [SUBJECT]`: print lifecycle events as they arrive, one JSON line each."""

import asyncio
import json
import time
from typing import Any

import nats
import nats.errors
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from events.publisher import nats_servers


class Command(BaseCommand):
    """Subscribe to event subjects and print each envelope as one JSON line (the in-project `nats sub`)."""

    help = "Print lifecycle events as they are published, one JSON line per envelope (Ctrl-C to stop)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "subject", nargs="?", default="org.statehub.>", help="Subject filter (default %(default)s)."
        )
        parser.add_argument("--url", default=None, help="NATS server (default NATS_URL).")
        parser.add_argument("--count", type=int, default=None, help="Exit after this many envelopes.")
        parser.add_argument("--timeout", type=float, default=None, help="Exit after this many seconds.")

    def handle(self, *args: Any, **options: Any) -> None:
        url = options["url"] or settings.NATS_URL
        if not url:
            raise CommandError("NATS_URL is not set; pass --url nats://HOST:PORT.")
        if options["count"] is not None and options["count"] <= 0:
            raise CommandError("--count must be positive.")
        if options["timeout"] is not None and options["timeout"] <= 0:
            raise CommandError("--timeout must be positive.")
        try:
            received = asyncio.run(self._tail(url, options["subject"], options["count"], options["timeout"]))
        except KeyboardInterrupt:
            return
        if options["count"] is not None and received < options["count"]:
            raise CommandError(f"Received {received} of {options['count']} envelope(s) before the timeout.")

    async def _tail(self, url: str, subject: str, count: int | None, timeout: float | None) -> int:
        try:
            # Reconnect forever once connected, but give up on a server that is not there at start.
            nc = await asyncio.wait_for(
                nats.connect(
                    servers=nats_servers(url),
                    name="state-hub-tail",
                    connect_timeout=2,
                    max_reconnect_attempts=-1,
                    error_cb=self._on_error,
                    disconnected_cb=self._on_disconnected,
                    reconnected_cb=self._on_reconnected,
                ),
                timeout=3,
            )
        except Exception as exc:
            raise CommandError(f"Cannot connect to NATS at {url}: {exc}") from exc
        try:
            subscription = await nc.subscribe(subject)
            await nc.flush()
            self.stderr.write(f"Listening on {subject} at {url} (Ctrl-C to stop).")
            self.stderr.flush()
            deadline = None if timeout is None else time.monotonic() + timeout
            received = 0
            while count is None or received < count:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    break
                try:
                    msg = await subscription.next_msg(timeout=remaining if remaining is not None else 3600)
                except nats.errors.TimeoutError:
                    continue
                self.stdout.write(self._line(msg))
                self.stdout.flush()
                received += 1
            return received
        finally:
            await nc.close()

    # nats-py's default callbacks log a full traceback on every failed reconnect attempt; a person
    # watching the stream needs one line saying what happened.
    async def _on_error(self, error: Exception) -> None:
        self.stderr.write(f"NATS: {error or type(error).__name__}; retrying.")
        self.stderr.flush()

    async def _on_disconnected(self) -> None:
        self.stderr.write("NATS: disconnected; reconnecting.")
        self.stderr.flush()

    async def _on_reconnected(self) -> None:
        self.stderr.write("NATS: reconnected.")
        self.stderr.flush()

    @staticmethod
    def _line(msg: Any) -> str:
        try:
            envelope = json.loads(msg.data)
        except ValueError:
            envelope = {"subject": msg.subject, "data": msg.data.decode(errors="replace")}
        return json.dumps(envelope, ensure_ascii=False, separators=(",", ":"))
