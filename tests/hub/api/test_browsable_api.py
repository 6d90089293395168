"""The browsable API as people use it: branded pages, readable breadcrumbs, logins that lock out and land somewhere."""

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.test import Client

from tests.factories import DecisionFactory

pytestmark = pytest.mark.django_db

PASSWORD = "pw-for-tests-only"


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_browsable_pages_are_titled_state_hub_with_the_page_name(make_user: Callable[..., User]) -> None:
    page = logged_in(make_user("reader")).get("/repos/", HTTP_ACCEPT="text/html").content.decode()

    assert "<title>Repo List · State Hub</title>" in page
    assert "Django REST framework" not in page


def test_breadcrumbs_name_each_level_once(make_user: Callable[..., User]) -> None:
    decision = DecisionFactory(key="DEC-0001")

    page = logged_in(make_user("reader")).get(f"/decisions/{decision.key}/", HTTP_ACCEPT="text/html").content.decode()
    start = page.index('<ul class="breadcrumb">')
    breadcrumbs = page[start : page.index("</ul>", start)]

    assert ">State Hub<" in breadcrumbs
    assert ">Decision List<" in breadcrumbs
    assert "Decision Instance" in breadcrumbs
    assert breadcrumbs.count("Decision List") == 1


@pytest.mark.parametrize("login_url", ["/api-auth/login/", "/admin/login/"])
def test_repeated_wrong_passwords_lock_the_login_out_even_for_the_right_one(
    login_url: str, make_user: Callable[..., User]
) -> None:
    make_user("target", staff=True)
    client = Client()

    wrong = [client.post(login_url, {"username": "target", "password": "wrong"}).status_code for _ in range(5)]
    right = client.post(login_url, {"username": "target", "password": PASSWORD})

    assert 429 not in wrong[:4]
    assert right.status_code == 429
    assert "_auth_user_id" not in client.session


def test_a_login_without_next_lands_on_the_api_root(make_user: Callable[..., User]) -> None:
    make_user("person")

    response = Client().post("/api-auth/login/", {"username": "person", "password": PASSWORD, "next": ""})

    assert response.status_code == 302
    assert response["Location"] == "/"


@pytest.mark.parametrize("path", ["/repos/", "/docs/"])
def test_an_anonymous_page_request_is_sent_to_the_login_page(path: str) -> None:
    response = Client().get(path, HTTP_ACCEPT="text/html")

    assert response.status_code == 302
    assert response["Location"] == f"/api-auth/login/?next={path}"


def test_an_anonymous_json_request_still_gets_401() -> None:
    response = Client().get("/repos/", HTTP_ACCEPT="application/json")

    assert response.status_code == 401
    assert response.json()["detail"]
