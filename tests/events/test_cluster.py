"""Scale-out (DESIGN §6 item 10): `NATS_URL` lists a cluster's servers, the hub creates the stream with
`NATS_STREAM_REPLICAS`, and losing a node in the middle of a run of writes costs no event and no 5xx."""

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework.test import APIClient

from events.models import OutboxEvent
from events.publisher import nats_servers, reset_publisher
from events.relay import relay_pending_events
from statehub import devservers
from tests.events.conftest import JetStreamProbe

pytestmark = [pytest.mark.django_db, pytest.mark.nats]


@pytest.fixture
def cluster(tmp_path: Path, settings: Any) -> Iterator[list[devservers.NatsClusterNode]]:
    nodes = devservers.start_nats_cluster(tmp_path / "cluster", size=3)
    try:
        settings.NATS_URL = ",".join(node.url for node in nodes)
        settings.NATS_STREAM_REPLICAS = 3
        devservers.wait_for_jetstream(nats_servers(settings.NATS_URL))
        reset_publisher()
        yield nodes
    finally:
        reset_publisher()
        for node in nodes:
            node.stop()


def test_nats_url_takes_a_comma_separated_list_of_servers() -> None:
    assert nats_servers(" nats://a:4222, nats://b:4222 ,,nats://c:4222") == [
        "nats://a:4222",
        "nats://b:4222",
        "nats://c:4222",
    ]
    assert nats_servers("nats://only:4222") == ["nats://only:4222"]


def test_a_node_killed_during_a_run_of_writes_costs_no_event_and_no_error(
    cluster: list[devservers.NatsClusterNode], settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.NATS_PUBLISH_TIMEOUT_S = 2.0
    settings.NATS_CONNECT_TIMEOUT_S = 1.0
    settings.NATS_DOWN_BACKOFF_S = 0.1
    settings.NATS_DOWN_BACKOFF_MAX_S = 0.5
    settings.EVENTS_BACKOFF_BASE_S = 0.05
    settings.EVENTS_BACKOFF_CAP_S = 0.2
    client = APIClient(raise_request_exception=False)
    client.force_authenticate(get_user_model().objects.create_superuser("cluster", password="pw-for-tests-only"))
    probe = JetStreamProbe(settings.NATS_URL, settings.NATS_STREAM)

    def write(slug: str) -> int:
        with django_capture_on_commit_callbacks(execute=True):
            return client.post("/repos/", {"slug": slug, "name": slug}, format="json").status_code

    statuses = [write(f"before-{n}") for n in range(10)]
    # The hub created the stream on its first publish, replicated on every node.
    info = probe.info()
    assert info.config.num_replicas == 3
    leader = next(node for node in cluster if node.name == info.cluster.leader)

    leader.kill()
    statuses += [write(f"after-{n}") for n in range(30)]

    assert statuses == [201] * 40
    deadline = time.monotonic() + 60
    while OutboxEvent.objects.exclude(status=OutboxEvent.Status.PUBLISHED).exists():
        assert time.monotonic() < deadline, list(OutboxEvent.objects.values_list("status", "last_error"))
        OutboxEvent.objects.filter(status=OutboxEvent.Status.PENDING).update(next_attempt_at=timezone.now())
        relay_pending_events()
        time.sleep(0.2)
    assert not OutboxEvent.objects.filter(status=OutboxEvent.Status.FAILED).exists()
    stored = [message.envelope["id"] for message in probe.messages()]
    assert len(stored) == len(set(stored)) == 40
    assert set(stored) == {str(event_id) for event_id in OutboxEvent.objects.values_list("id", flat=True)}
