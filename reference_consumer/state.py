"""The consumer's local state in one SQLite file: handled ids, position, the "replay owed" marker, set-aside events.

Every fact the recovery relies on commits before the step that depends on it: a handled event's
id and the position it reached commit together, before the ack; the "replay owed" marker commits
before a new durable is created. `synchronous=FULL` makes each of those commits survive a power
loss, not only a killed process; `NORMAL` is faster and may forget the last few commits, which
would hand those events to the handler a second time.
"""

import contextlib
import datetime as dt
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS handled (
    n INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS position (
    only_row INTEGER PRIMARY KEY CHECK (only_row = 1),
    stream_created TEXT NOT NULL,
    stream_seq INTEGER NOT NULL,
    event_time TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS replay_owed (
    only_row INTEGER PRIMARY KEY CHECK (only_row = 1),
    stream_created TEXT NOT NULL,
    stream_seq INTEGER NOT NULL,
    event_time TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS set_aside (
    stream_created TEXT NOT NULL,
    stream_seq INTEGER NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('poison', 'dead')),
    event_id TEXT,
    subject TEXT NOT NULL,
    reason TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    PRIMARY KEY (stream_created, stream_seq)
);
"""


def rfc3339(moment: dt.datetime) -> str:
    """A time as the hub's replay takes it: UTC, microseconds, `Z`."""
    return moment.astimezone(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def same_incarnation(created: str, other: str) -> bool:
    """Whether two creation times name the same stream incarnation, however each was written."""
    return dt.datetime.fromisoformat(created) == dt.datetime.fromisoformat(other)


@dataclass(frozen=True)
class Position:
    """Where an event sits: its stream incarnation (creation time), stream sequence and envelope timestamp."""

    stream_created: str
    stream_seq: int
    event_time: str

    def is_after(self, other: "Position") -> bool:
        """Later than `other`: further along the same incarnation, or in another one (always newer here)."""
        if not same_incarnation(self.stream_created, other.stream_created):
            return True
        return self.stream_seq > other.stream_seq


class State:
    """The SQLite file of one consumer; only this process's event-loop thread uses it."""

    def __init__(self, path: Path, *, dedupe_window: int) -> None:
        self.dedupe_window = dedupe_window
        # Autocommit mode: each write below is one statement or one explicit `_transaction()`.
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    def seen(self, event_id: str) -> bool:
        """Whether the handler already handled this event (within the last `dedupe_window` ids)."""
        return self.db.execute("SELECT 1 FROM handled WHERE event_id = ?", (event_id,)).fetchone() is not None

    def record_handled(self, event_id: str, position: Position | None) -> None:
        """Remember the id (forgetting the oldest beyond the window) and move the position, in one transaction."""
        with self._transaction():
            cursor = self.db.execute("INSERT INTO handled (event_id) VALUES (?)", (event_id,))
            self.db.execute("DELETE FROM handled WHERE n <= ?", ((cursor.lastrowid or 0) - self.dedupe_window,))
            self._advance(position)

    def advance(self, position: Position) -> None:
        """Move the position past an event that needed no handling (a duplicate)."""
        with self._transaction():
            self._advance(position)

    def set_aside(
        self, kind: str, where: Position, *, event_id: str | None, subject: str, reason: str, advance: bool
    ) -> None:
        """Record a poison or dead event (found at `where`) for an operator; move the position past it if `advance`.

        Its id counts as dealt with, like a handled one: a later delivery of it (the durable after a
        replay) is not handed to the handler after events that came after it.
        """
        with self._transaction():
            if event_id is not None and not self.seen(event_id):
                cursor = self.db.execute("INSERT INTO handled (event_id) VALUES (?)", (event_id,))
                self.db.execute("DELETE FROM handled WHERE n <= ?", ((cursor.lastrowid or 0) - self.dedupe_window,))
            self.db.execute(
                "INSERT OR REPLACE INTO set_aside VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    where.stream_created,
                    where.stream_seq,
                    kind,
                    event_id,
                    subject,
                    reason[:2000],
                    rfc3339(dt.datetime.now(dt.UTC)),
                ),
            )
            self._advance(where if advance else None)

    def set_aside_ids(self, kind: str) -> list[str | None]:
        """The ids of the events set aside as `kind` (`poison` or `dead`), oldest first; `None` if unreadable."""
        rows = self.db.execute("SELECT event_id FROM set_aside WHERE kind = ? ORDER BY recorded_at", (kind,))
        return [row[0] for row in rows]

    def position(self) -> Position | None:
        """The durable's last message dealt with (handled, a duplicate, or set aside); `None` before the first.

        Only the durable moves it: it delivers in stream order, one message at a time, so every event
        at or before the position is dealt with. The hub's replay can list a sequence before a lower
        one is marked published, so a replayed event proves nothing about the events before it.
        """
        return self._read("position")

    def replay_owed(self) -> Position | None:
        """The marker: replay from the hub after this position before consuming (`None` when nothing is owed)."""
        return self._read("replay_owed")

    def owe_replay(self, position: Position) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO replay_owed VALUES (1, ?, ?, ?)",
            (position.stream_created, position.stream_seq, position.event_time),
        )

    def clear_replay_owed(self) -> None:
        self.db.execute("DELETE FROM replay_owed")

    def _advance(self, position: Position | None) -> None:
        if position is None:
            return
        current = self.position()
        if current is None or position.is_after(current):
            self.db.execute(
                "INSERT OR REPLACE INTO position VALUES (1, ?, ?, ?)",
                (position.stream_created, position.stream_seq, position.event_time),
            )

    def _read(self, table: str) -> Position | None:
        row = self.db.execute(f"SELECT stream_created, stream_seq, event_time FROM {table}").fetchone()  # noqa: S608 - our table names
        return None if row is None else Position(*row)

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")
