"""`manage.py ensure_stream [--check]`: create or update the JetStream stream as the settings describe it."""

import asyncio
from typing import Any

import nats
import nats.errors
import nats.js.errors
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from events.publisher import nats_servers
from events.stream import Drift, StreamSettings, stream_drift, wanted_stream


class Command(BaseCommand):
    """Create the stream, or bring a live one to the settings the hub owns; `--check` only reports drift."""

    help = (
        "Create the JetStream stream NATS_STREAM (subjects org.>, file storage, limits retention) with "
        "NATS_STREAM_MAX_AGE_S, NATS_STREAM_DUPLICATE_WINDOW_S and NATS_STREAM_REPLICAS, or update a live "
        "stream that differs. --check: change nothing; exit 1 naming every setting that differs (or a missing stream)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--check", action="store_true", help="Report drift and exit 1 if any; change nothing.")

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.NATS_URL:
            raise CommandError("NATS_URL is not set: there is no stream to ensure.")
        wanted = wanted_stream()
        try:
            state, drift = asyncio.run(self._ensure(wanted, check=options["check"]))
        except nats.js.errors.APIError as exc:
            raise CommandError(f"JetStream refused: {exc}") from exc
        except (OSError, TimeoutError, nats.errors.Error) as exc:
            raise CommandError(f"Could not reach NATS at {settings.NATS_URL}: {exc!r}") from exc
        if options["check"]:
            if state == "missing":
                raise CommandError(f"Stream {wanted.name} does not exist; `manage.py ensure_stream` creates it.")
            if drift:
                for difference in drift:
                    self.stderr.write(f"  {difference}")
                raise CommandError(
                    f"Stream {wanted.name} differs from the settings in {len(drift)} setting(s): "
                    + ", ".join(difference.setting for difference in drift)
                    + "; `manage.py ensure_stream` updates it."
                )
            self.stdout.write(f"Stream {wanted.name} matches the settings.")
            return
        if state == "created":
            self.stdout.write(f"Created stream {wanted.name}: {_describe(wanted)}.")
        elif drift:
            for difference in drift:
                self.stdout.write(f"  {difference}")
            self.stdout.write(f"Updated stream {wanted.name}: {_describe(wanted)}.")
        else:
            self.stdout.write(f"Stream {wanted.name} already matches the settings: {_describe(wanted)}.")

    async def _ensure(self, wanted: StreamSettings, *, check: bool) -> tuple[str, list[Drift]]:
        timeout = max(settings.NATS_PUBLISH_TIMEOUT_S, 2.0)
        nc = await nats.connect(
            servers=nats_servers(settings.NATS_URL),
            name="state-hub ensure_stream",
            allow_reconnect=False,
            max_reconnect_attempts=1,
            connect_timeout=max(1, round(settings.NATS_CONNECT_TIMEOUT_S)),
        )
        try:
            js = nc.jetstream(timeout=timeout)
            try:
                info = await js.stream_info(wanted.name)
            except nats.js.errors.NotFoundError:
                if check:
                    return "missing", []
                await js.add_stream(config=wanted.config())
                return "created", []
            drift = stream_drift(wanted, info.config)
            if drift and not check:
                await js.update_stream(config=wanted.applied_to(info.config))
                still = stream_drift(wanted, (await js.stream_info(wanted.name)).config)
                if still:
                    raise CommandError(
                        f"Stream {wanted.name} was updated but still differs: "
                        + "; ".join(str(difference) for difference in still)
                        + " (JetStream cannot change some settings of a live stream, e.g. storage or retention)."
                    )
            return "exists", drift
        finally:
            await nc.close()


def _describe(wanted: StreamSettings) -> str:
    age = f"{wanted.max_age_s} s" if wanted.max_age_s > 0 else "no limit"
    return (
        f"subjects {', '.join(wanted.subjects)}, max age {age}, "
        f"duplicate window {wanted.duplicate_window_s} s, {wanted.replicas} replica(s)"
    )
