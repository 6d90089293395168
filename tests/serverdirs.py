"""Where a test keeps a server's data: outside pytest's temporary tree."""

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def server_directory(prefix: str) -> Iterator[Path]:
    """A directory for a server's data, outside pytest's temporary tree, removed afterwards.

    Run as root, embedded PostgreSQL runs as its own user and opens up the permissions of every
    directory above its data; a pytest session starting meanwhile (another checkout's, say) makes
    its `pytest-of-<user>` directory private again, and the running server's socket and data
    become unreachable. A directory of its own in the system's temporary directory is left alone.
    """
    with tempfile.TemporaryDirectory(prefix=prefix, ignore_cleanup_errors=True) as directory:
        yield Path(directory)
