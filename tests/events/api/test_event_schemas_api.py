"""`/events/schemas/`: each subject's JSON Schema, public, versioned and cacheable, as committed in docs/schemas/."""

import json
from pathlib import Path

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from events.schemas import render_schema
from events.subjects import REGISTRY

pytestmark = pytest.mark.django_db

SCHEMAS_DIR = Path(settings.BASE_DIR) / "docs" / "schemas"
REPO_REGISTERED = REGISTRY["org.statehub.repo.registered"]


def test_the_index_links_every_subject_to_its_versioned_and_its_current_schema(anon_api: APIClient) -> None:
    index = anon_api.get("/events/schemas/").json()

    assert index["version"] == "1.0"
    assert [item["subject"] for item in index["schemas"]] == list(REGISTRY)
    first = index["schemas"][0]
    assert first["schema_version"] == REPO_REGISTERED.schema_version == "1.0"
    assert first["url"] == "http://testserver/events/schemas/org.statehub.repo.registered/1.0.json"
    assert first["latest_url"] == "http://testserver/events/schemas/org.statehub.repo.registered.json"
    assert index["asyncapi_url"] == "http://testserver/events/asyncapi.json"


@pytest.mark.parametrize("subject", list(REGISTRY))
def test_each_schema_is_served_without_authentication_as_committed(subject: str, anon_api: APIClient) -> None:
    version = REGISTRY[subject].schema_version
    current = anon_api.get(f"/events/schemas/{subject}.json")
    versioned = anon_api.get(f"/events/schemas/{subject}/{version}.json")

    committed = (SCHEMAS_DIR / f"{subject}.json").read_text(encoding="utf-8")
    assert current.status_code == versioned.status_code == 200
    assert current.content.decode() == versioned.content.decode() == committed
    assert (SCHEMAS_DIR / subject / f"{version}.json").read_text(encoding="utf-8") == committed
    assert current["Content-Type"] == "application/schema+json"


def test_a_versioned_schema_is_immutable_and_the_current_one_cached_for_a_while(anon_api: APIClient) -> None:
    versioned = anon_api.get("/events/schemas/org.statehub.repo.registered/1.0.json")
    current = anon_api.get("/events/schemas/org.statehub.repo.registered.json")
    index = anon_api.get("/events/schemas/")

    assert versioned["Cache-Control"] == "public, max-age=31536000, immutable"
    assert current["Cache-Control"] == index["Cache-Control"] == f"public, max-age={settings.CONTRACT_CACHE_S}"
    assert versioned["ETag"] == current["ETag"]  # the same bytes


def test_a_matching_etag_answers_304_with_no_body(anon_api: APIClient) -> None:
    first = anon_api.get("/events/schemas/org.statehub.repo.registered/1.0.json")

    again = anon_api.get("/events/schemas/org.statehub.repo.registered/1.0.json", HTTP_IF_NONE_MATCH=first["ETag"])
    other = anon_api.get("/events/schemas/org.statehub.repo.registered/1.0.json", HTTP_IF_NONE_MATCH='"stale"')

    assert again.status_code == 304
    assert again.content == b""
    assert again["ETag"] == first["ETag"]
    assert other.status_code == 200
    weak = anon_api.get(
        "/events/schemas/org.statehub.repo.registered/1.0.json", HTTP_IF_NONE_MATCH="W/" + first["ETag"]
    )
    assert weak.status_code == 304  # a compressing proxy weakens the tag


def test_an_archived_version_is_served_from_its_file(
    anon_api: APIClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = {"title": "org.statehub.repo.registered", "description": "as it was"}
    (tmp_path / "org.statehub.repo.registered").mkdir()
    (tmp_path / "org.statehub.repo.registered" / "0.9.json").write_text(json.dumps(old), encoding="utf-8")
    monkeypatch.setattr("events.schemas.SCHEMAS_DIR", tmp_path)

    response = anon_api.get("/events/schemas/org.statehub.repo.registered/0.9.json")

    assert response.status_code == 200
    assert response.json() == old
    assert anon_api.get("/events/schemas/org.statehub.repo.registered/0.8.json").status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "org.statehub.repo.renamed.json",
        "nothing.json",
        "org.statehub.repo.registered",
        "org.statehub.repo.registered/2.0.json",
        "org.statehub.repo.registered/..%2F..%2Fsettings.json",
        "..%2Forg.statehub.repo.registered/1.0.json",
    ],
)
def test_an_unknown_subject_or_version_is_a_json_404(path: str, anon_api: APIClient) -> None:
    response = anon_api.get(f"/events/schemas/{path}")

    assert response.status_code == 404
    assert "detail" in response.json()


def test_the_current_schema_is_what_the_registry_renders() -> None:
    for subject in REGISTRY.values():
        assert (SCHEMAS_DIR / f"{subject.name}.json").read_text(encoding="utf-8") == render_schema(subject)
