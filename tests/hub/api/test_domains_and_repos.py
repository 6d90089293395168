"""`/domains/` and `/repos/`: create, read, patch and list by slug; registering a repo records one event."""

import pytest
from rest_framework.test import APIClient

from events.models import OutboxEvent
from hub.models import Domain, Repo
from tests.factories import DomainFactory, RepoFactory

pytestmark = pytest.mark.django_db


def test_creating_a_domain_returns_it_with_its_id(api: APIClient) -> None:
    response = api.post("/domains/", {"slug": "custodian", "name": "Custodian"}, format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["slug"] == "custodian"
    assert body["status"] == "active"
    assert str(Domain.objects.get(slug="custodian").id) == body["id"]


def test_a_domain_is_read_by_slug_or_uuid_and_patched(api: APIClient) -> None:
    domain = DomainFactory.create(slug="platform")

    assert api.get("/domains/platform/").json()["id"] == str(domain.id)
    assert api.get(f"/domains/{domain.id}/").json()["slug"] == "platform"
    response = api.patch("/domains/platform/", {"name": "Platform team", "status": "archived"}, format="json")

    assert response.status_code == 200, response.json()
    domain.refresh_from_db()
    assert (domain.name, domain.status) == ("Platform team", "archived")


def test_a_duplicate_domain_slug_is_a_field_error(api: APIClient) -> None:
    DomainFactory.create(slug="custodian")

    response = api.post("/domains/", {"slug": "custodian", "name": "Again"}, format="json")

    assert response.status_code == 400
    assert "slug" in response.json()


def test_an_invalid_slug_is_a_field_error(api: APIClient) -> None:
    response = api.post("/domains/", {"slug": "Not A Slug", "name": "x"}, format="json")

    assert response.status_code == 400
    assert list(response.json()) == ["slug"]


def test_registering_a_repo_answers_201_and_records_one_repo_registered_event(api: APIClient) -> None:
    DomainFactory.create(slug="custodian")

    response = api.post(
        "/repos/",
        {"slug": "state-hub", "name": "State Hub", "domain": "custodian", "remote_url": "git@x:org/state-hub.git"},
        format="json",
    )

    assert response.status_code == 201, response.json()
    assert response.json()["domain"] == "custodian"
    events = list(OutboxEvent.objects.all())
    assert [event.subject for event in events] == ["org.statehub.repo.registered"]
    assert events[0].envelope["attributes"]["repo_slug"] == "state-hub"
    assert events[0].envelope["attributes"]["domain_slug"] == "custodian"


def test_a_repo_with_an_unknown_domain_is_a_field_error_and_records_nothing(api: APIClient) -> None:
    response = api.post("/repos/", {"slug": "state-hub", "domain": "nowhere"}, format="json")

    assert response.status_code == 400
    assert "domain" in response.json()
    assert not Repo.objects.exists()
    assert not OutboxEvent.objects.exists()


def test_patching_a_repo_changes_its_fields_without_an_event(api: APIClient) -> None:
    repo = RepoFactory.create(slug="state-hub")
    other = DomainFactory.create(slug="other")

    response = api.patch("/repos/state-hub/", {"domain": "other", "workplan_dir": "plans"}, format="json")

    assert response.status_code == 200, response.json()
    repo.refresh_from_db()
    assert (repo.domain_id, repo.workplan_dir) == (other.id, "plans")
    assert not OutboxEvent.objects.exists()


def test_repos_are_filtered_by_domain_and_status(api: APIClient) -> None:
    RepoFactory.create(slug="a", domain=DomainFactory.create(slug="one"))
    RepoFactory.create(slug="b", domain=DomainFactory.create(slug="two"))
    RepoFactory.create(slug="c", domain=DomainFactory.create(slug="two"), status="archived")

    assert [r["slug"] for r in api.get("/repos/?domain=two").json()["results"]] == ["b", "c"]
    assert [r["slug"] for r in api.get("/repos/?domain=two&status=active").json()["results"]] == ["b"]
    assert [r["slug"] for r in api.get("/repos/?ordering=-slug").json()["results"]] == ["c", "b", "a"]


def test_unknown_slugs_answer_404(api: APIClient) -> None:
    assert api.get("/domains/nope/").status_code == 404
    assert api.patch("/repos/nope/", {"name": "x"}, format="json").status_code == 404
