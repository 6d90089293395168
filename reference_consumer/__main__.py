"""`python -m reference_consumer`: consume the hub's events, printing each handled envelope as one JSON line.

Runs until SIGTERM or SIGINT, finishing the event in hand. `--handler module:function` swaps the
printer for your own `handle(envelope, headers)`. Logs go to stderr, envelopes to stdout.
"""

import argparse
import asyncio
import importlib
import json
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any, cast

from reference_consumer.consumer import (
    DEDUPE_WINDOW,
    DEFAULT_DURABLE,
    DEFAULT_STREAM,
    MAX_DELIVER,
    Config,
    Consumer,
    Handler,
)
from reference_consumer.schemas import BUNDLED_SCHEMAS


def print_envelope(envelope: dict[str, Any], headers: dict[str, str]) -> None:
    """The default handler: the envelope as one line of JSON on stdout, flushed (a crash loses no line)."""
    print(json.dumps(envelope, separators=(",", ":"), sort_keys=True), flush=True)


def load_handler(spec: str) -> Handler:
    """`package.module:function` as a handler."""
    module_name, _, name = spec.partition(":")
    if not name:
        raise argparse.ArgumentTypeError(f"--handler takes module:function, not {spec!r}")
    return cast(Handler, getattr(importlib.import_module(module_name), name))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m reference_consumer", description=__doc__)
    parser.add_argument("--nats", required=True, help="NATS URL(s), comma-separated")
    parser.add_argument("--hub", required=True, help="the hub's base URL, for the replay (e.g. https://hub.example)")
    parser.add_argument("--token", default=os.environ.get("STATEHUB_TOKEN", ""), help="API token (or STATEHUB_TOKEN)")
    parser.add_argument("--state", required=True, type=Path, help="the SQLite file of this consumer's state")
    parser.add_argument("--stream", default=DEFAULT_STREAM)
    parser.add_argument("--durable", default=DEFAULT_DURABLE, help="the durable consumer's name")
    parser.add_argument("--schemas", type=Path, default=BUNDLED_SCHEMAS, help="directory of <subject>.json schemas")
    parser.add_argument("--dedupe-window", type=int, default=DEDUPE_WINDOW, help="handled ids to remember")
    parser.add_argument("--max-deliver", type=int, default=MAX_DELIVER, help="deliveries before an event is dead")
    parser.add_argument("--handler", type=load_handler, default=print_envelope, help="module:function")
    args = parser.parse_args(argv)
    if not args.token:
        parser.error("--token or STATEHUB_TOKEN is required (the replay reads the hub's API)")
    return args


async def serve(consumer: Consumer) -> None:
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, consumer.stop.set)
    await consumer.run()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = Config(
        nats_url=args.nats,
        hub_url=args.hub,
        token=args.token,
        state_path=args.state,
        stream=args.stream,
        durable=args.durable,
        schemas_dir=args.schemas,
        dedupe_window=args.dedupe_window,
        max_deliver=args.max_deliver,
    )
    asyncio.run(serve(Consumer(config, args.handler)))


if __name__ == "__main__":
    main()
