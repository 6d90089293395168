"""`statehub.pagination`: page counts that stop counting at a bound and estimate beyond it."""

import pytest

import events
from events.models import OutboxEvent
from statehub.pagination import bounded_count, planner_estimate

pytestmark = pytest.mark.django_db


def _record(n: int) -> None:
    for index in range(n):
        events.record(
            "org.statehub.repo.registered",
            {
                "repo_id": None,
                "repo_slug": f"r{index}",
                "domain_slug": None,
                "remote_url": "",
                "local_path": "",
                "name": "",
            },
        )


def test_a_count_within_the_bound_is_exact() -> None:
    _record(5)

    assert bounded_count(OutboxEvent.objects.all(), exact_limit=5) == 5
    assert bounded_count(OutboxEvent.objects.filter(status="failed"), exact_limit=5) == 0


def test_a_count_past_the_bound_is_the_planner_estimate_and_never_below_the_bound() -> None:
    _record(8)
    queryset = OutboxEvent.objects.filter(subject="org.statehub.repo.registered")

    counted = bounded_count(queryset, exact_limit=3)

    assert counted == max(4, planner_estimate(queryset))
    assert counted >= 4
