"""Network stand-ins for the fault tests."""

import contextlib
import os
import socket
import sys
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit


@contextlib.contextmanager
def silent_listener() -> Iterator[int]:
    """A loopback port that accepts TCP connections and never says a word: a hung server."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        for connection in accepted:
            connection.close()
        listener.close()


def port_of(url: str) -> int:
    """The port of a URL such as `nats://127.0.0.1:4222`."""
    port = urlsplit(url).port
    assert port is not None, url
    return port


_attempts: list[tuple[int, list[int]]] = []


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event == "socket.connect" and _attempts and isinstance(args[1], tuple) and len(args[1]) >= 2:
        for port, attempts in _attempts:
            if args[1][1] == port:
                attempts.append(port)


@contextlib.contextmanager
def connection_attempts(port: int) -> Iterator[list[int]]:
    """One entry per TCP connection this process tries to open to `port` inside the block, from any thread.

    Counts attempts, not successes (a refused port counts too): a Python audit hook on `socket.connect`.
    """
    if not getattr(_audit, "installed", False):
        sys.addaudithook(_audit)  # hooks cannot be removed; this one records only inside a block
        _audit.installed = True  # type: ignore[attr-defined]
    attempts: list[int] = []
    entry = (port, attempts)
    _attempts.append(entry)
    try:
        yield attempts
    finally:
        # By identity: two blocks on one port with equal lists would compare equal.
        _attempts[:] = [other for other in _attempts if other is not entry]


def has_connection_to(pid: int, port: int) -> bool:
    """Whether process `pid` holds an established TCP connection to `port` (Linux: its descriptors and /proc/net)."""
    sockets = set()
    with contextlib.suppress(FileNotFoundError, ProcessLookupError):
        for descriptor in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                target = os.readlink(f"/proc/{pid}/fd/{descriptor}")
                if target.startswith("socket:["):
                    sockets.add(target[len("socket:[") : -1])
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as lines:
            next(lines)
            for line in lines:
                fields = line.split()
                remote_port, state, inode = int(fields[2].rsplit(":", 1)[1], 16), fields[3], fields[9]
                if remote_port == port and state == "01" and inode in sockets:  # 01: ESTABLISHED
                    return True
    return False
