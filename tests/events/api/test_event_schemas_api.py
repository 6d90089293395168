"""`/events/schemas/`: the JSON Schema of each subject, served as committed in docs/schemas/."""

import json
from pathlib import Path

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from events.subjects import REGISTRY

pytestmark = pytest.mark.django_db

SCHEMAS_DIR = Path(settings.BASE_DIR) / "docs" / "schemas"


def test_the_index_links_every_subject_to_its_schema(reader_api: APIClient) -> None:
    index = reader_api.get("/events/schemas/").json()

    assert index["version"] == "1.0"
    assert [item["subject"] for item in index["schemas"]] == list(REGISTRY)
    assert index["schemas"][0]["url"] == "http://testserver/events/schemas/org.statehub.repo.registered.json"


@pytest.mark.parametrize("subject", list(REGISTRY))
def test_each_schema_is_served_as_committed(subject: str, reader_api: APIClient) -> None:
    response = reader_api.get(f"/events/schemas/{subject}.json")

    assert response.status_code == 200
    assert response.json() == json.loads((SCHEMAS_DIR / f"{subject}.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("path", ["org.statehub.repo.renamed.json", "nothing.json", "org.statehub.repo.registered"])
def test_an_unknown_subject_is_404(path: str, reader_api: APIClient) -> None:
    response = reader_api.get(f"/events/schemas/{path}")

    assert response.status_code == 404


def test_schemas_need_authentication(anon_api: APIClient) -> None:
    assert anon_api.get("/events/schemas/").status_code == 401
    assert anon_api.get("/events/schemas/org.statehub.repo.registered.json").status_code == 401
