"""Every envelope the hub can record fits the server's max payload; one that could not is refused at the write."""

from typing import Any

import pytest

import events
from events.envelope import encode_envelope
from events.errors import EnvelopeTooLarge
from events.models import OutboxEvent
from events.outbox import envelope_limit
from events.relay import relay_pending_events
from events.subjects import REPO_REGISTERED
from hub import services
from hub.models import RATIONALE_MAX_LENGTH, Decision, Repo, Workstream

pytestmark = [pytest.mark.django_db, pytest.mark.nats]

# A control character is the worst case: JSON escapes it to six bytes (\u0001).
WORST = "\x01"


def longest(model: Any, field: str, character: str = WORST) -> str:
    return character * model._meta.get_field(field).max_length


def test_the_largest_decision_resolved_envelope_fits_and_is_delivered(jetstream: Any) -> None:
    # Keys and slugs are URL-safe (one byte a character); free text may be anything.
    repo = Repo.objects.create(slug=longest(Repo, "slug", "a"))
    workstream = Workstream.objects.create(
        key=longest(Workstream, "key", "A"), repo=repo, title=longest(Workstream, "title")
    )
    chosen = longest(Decision, "chosen_option")
    decision = Decision.objects.create(
        key=longest(Decision, "key", "D"),
        title=longest(Decision, "title"),
        options=[chosen],
        repo=repo,
        workstream=workstream,
    )

    services.decision_resolve(
        decision=decision,
        rationale="r" + WORST * (RATIONALE_MAX_LENGTH - 1),
        decided_by=longest(Decision, "decided_by"),
        chosen_option=chosen,
    )

    row = OutboxEvent.objects.get()
    size = len(encode_envelope(row.envelope))
    assert 6 * RATIONALE_MAX_LENGTH < size < envelope_limit()
    assert relay_pending_events().published == 1
    assert jetstream.count() == 1


def test_an_envelope_over_the_limit_is_refused_at_the_write(settings: Any) -> None:
    settings.EVENTS_MAX_PAYLOAD_BYTES = 10_000
    attributes = {name: None for name in REPO_REGISTERED.attribute_names}

    with pytest.raises(EnvelopeTooLarge, match="over the 1808 bytes"):
        events.record(REPO_REGISTERED.name, {**attributes, "name": "x" * 2_000})
    with pytest.raises(EnvelopeTooLarge):
        events.record_many(REPO_REGISTERED.name, [{**attributes, "name": "x" * 2_000}])
