"""The consumer's SQLite state and schema checks, without any server."""

from pathlib import Path
from typing import Any

from reference_consumer.schemas import BUNDLED_SCHEMAS, SchemaBook
from reference_consumer.state import Position, State

CREATED = "2026-12-01T08:00:00.123456Z"


def test_the_dedupe_store_forgets_the_oldest_ids_beyond_its_window(tmp_path: Path) -> None:
    state = State(tmp_path / "state.sqlite", dedupe_window=2)
    for seq, event_id in enumerate(["a", "b", "c"], start=1):
        state.record_handled(event_id, Position(CREATED, seq, "2026-12-01T08:00:01.000000Z"))

    assert [state.seen(event_id) for event_id in ("a", "b", "c")] == [False, True, True]


def test_the_position_moves_forward_in_an_incarnation_and_to_any_other(tmp_path: Path) -> None:
    state = State(tmp_path / "state.sqlite", dedupe_window=10)
    state.advance(Position(CREATED, 5, "2026-12-01T08:00:05.000000Z"))
    state.advance(Position("2026-12-01T08:00:00.123456+00:00", 3, "2026-12-01T08:00:03.000000Z"))
    assert state.position() == Position(CREATED, 5, "2026-12-01T08:00:05.000000Z")

    recreated = Position("2026-12-02T08:00:00.000000Z", 1, "2026-12-02T08:00:01.000000Z")
    state.advance(recreated)
    assert state.position() == recreated


def test_the_replay_owed_marker_survives_reopening_until_cleared(tmp_path: Path) -> None:
    owed = Position(CREATED, 7, "2026-12-01T08:00:07.000000Z")
    State(tmp_path / "state.sqlite", dedupe_window=10).owe_replay(owed)

    reopened = State(tmp_path / "state.sqlite", dedupe_window=10)
    assert reopened.replay_owed() == owed
    reopened.clear_replay_owed()
    assert reopened.replay_owed() is None


def test_the_bundled_schemas_name_what_is_wrong_with_an_envelope() -> None:
    schemas = SchemaBook(BUNDLED_SCHEMAS)
    attributes: dict[str, Any] = {
        "repo_id": "6f1c2a53-5bd5-4c1e-9d0a-5e0d2c7c9b12",
        "repo_slug": "demo",
        "domain_slug": None,
        "remote_url": "",
        "local_path": "",
        "name": "Demo",
        "added_in_1_1": True,
    }
    envelope = {
        "id": "6f1c2a53-5bd5-4c1e-9d0a-5e0d2c7c9b11",
        "type": "org.statehub.repo.registered",
        "version": "1.0",
        "timestamp": "2026-12-01T08:00:00.000Z",
        "publisher": "state-hub",
        "attributes": attributes,
    }
    assert schemas.problem(envelope) is None

    del attributes["repo_slug"]
    assert schemas.problem(envelope) == "attributes: 'repo_slug' is a required property"
    assert schemas.problem({**envelope, "type": "org.statehub.comet.sighted"}) == (
        "No bundled schema for type 'org.statehub.comet.sighted'."
    )
    assert schemas.problem(None) == "The message body is not a JSON object."
