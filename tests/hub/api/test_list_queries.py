"""Every list endpoint runs the same number of queries for 1 row and for 50."""

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

import events
from tests.factories import (
    DecisionFactory,
    DomainFactory,
    DomainGoalFactory,
    ProgressEventFactory,
    RepoFactory,
    TaskFactory,
    WorkstreamFactory,
)

pytestmark = pytest.mark.django_db


def _repo_event(n: int) -> None:
    events.record(
        "org.statehub.repo.registered",
        {"repo_id": None, "repo_slug": f"r{n}", "domain_slug": None, "remote_url": "", "local_path": "", "name": ""},
    )


def _task(n: int) -> None:
    repo = RepoFactory.create(domain=DomainFactory.create())
    TaskFactory.create(
        workstream=WorkstreamFactory.create(repo=repo, domain_goal=DomainGoalFactory.create(domain=repo.domain))
    )


def _decision(n: int) -> None:
    DecisionFactory.create(
        repo=RepoFactory.create(), workstream=WorkstreamFactory.create(), status="resolved", resolved_at=timezone.now()
    )


def _progress(n: int) -> None:
    task = TaskFactory.create()
    ProgressEventFactory.create(task=task, workstream=task.workstream)


LISTS: dict[str, Callable[[int], Any]] = {
    "/domains/": lambda n: DomainFactory.create(),
    "/repos/": lambda n: RepoFactory.create(domain=DomainFactory.create()),
    "/domain-goals/": lambda n: DomainGoalFactory.create(),
    "/workstreams/": lambda n: TaskFactory.create(
        workstream=WorkstreamFactory.create(
            repo=RepoFactory.create(domain=DomainFactory.create()), domain_goal=DomainGoalFactory.create()
        )
    ),
    "/tasks/": _task,
    "/decisions/": _decision,
    "/progress-events/": _progress,
    "/next-steps/": _task,
    "/events/": _repo_event,
}


def _queries(api: APIClient, path: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = api.get(path, {"page_size": 100})
    assert response.status_code == 200
    return len(captured.captured_queries)


@pytest.mark.parametrize("path", list(LISTS))
def test_a_list_runs_a_constant_number_of_queries(
    path: str, api: APIClient, django_assert_max_num_queries: Any
) -> None:
    make = LISTS[path]
    make(0)
    _queries(api, path)  # warm up: the token lookup and content types are cached after the first call
    with_one = _queries(api, path)
    for n in range(1, 50):
        make(n)

    with django_assert_max_num_queries(with_one):
        response = api.get(path, {"page_size": 100})

    assert response.json()["count"] == 50
    assert len(response.json()["results"]) == 50
