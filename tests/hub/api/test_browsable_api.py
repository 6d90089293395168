"""The browsable API as people use it: branded pages, readable breadcrumbs, logins that lock out and land somewhere."""

import re
from collections.abc import Callable
from typing import Any

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.models import User
from django.test import Client
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart

import events
from events.models import OutboxEvent
from hub.models import Task, Workstream
from hub.transitions import offered_statuses
from tests.factories import DecisionFactory, DomainGoalFactory, RepoFactory, TaskFactory, WorkstreamFactory
from tests.hub.api.conftest import client_for

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


def test_behind_the_proxy_forged_addresses_neither_escape_the_lockout_nor_lock_another_client_out(
    make_user: Callable[..., User], settings: Any
) -> None:
    settings.TRUST_PROXY_HEADERS = True
    make_user("target", staff=True)
    attacker, victim = Client(), Client()

    # As nginx's $proxy_add_x_forwarded_for forwards them: whatever the attacker sent, then its address.
    def as_attacker(password: str, n: int) -> int:
        forged = f"10.3.0.{n}, 198.51.100.50" if n % 2 else "198.51.100.60, 198.51.100.50"
        login = {"username": "target", "password": password}
        return attacker.post("/admin/login/", login, HTTP_X_FORWARDED_FOR=forged).status_code

    wrong = [as_attacker("wrong", n) for n in range(30)]
    right = as_attacker(PASSWORD, 30)
    victims_login = victim.post(
        "/admin/login/", {"username": "target", "password": PASSWORD}, HTTP_X_FORWARDED_FOR="198.51.100.60"
    )

    limit = settings.AXES_FAILURE_LIMIT
    assert 429 not in wrong[: limit - 1]
    assert wrong[limit:] == [429] * (30 - limit)
    assert right == 429
    assert victims_login.status_code == 302
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"198.51.100.50"}


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


# Actions as forms: GET on an action route shows the object and the action's form.


def _select_options(page: str, name: str) -> list[str]:
    start = page.index(f'<select class="form-control" name="{name}">')
    return re.findall(r'<option value="([^"]*)"', page[start : page.index("</select>", start)])


def _html(client: Client, path: str) -> str:
    response = client.get(path, HTTP_ACCEPT="text/html")
    assert response.status_code == 200, response.content
    return response.content.decode()


def test_the_resolve_page_shows_the_decision_and_offers_its_own_options(make_user: Callable[..., User]) -> None:
    DecisionFactory.create(key="DEC-0002", options=["keep nats", "drop nats"])

    page = _html(logged_in(make_user("writer", write=True)), "/decisions/DEC-0002/resolve")

    assert "&quot;status&quot;: &quot;open&quot;" in page
    assert _select_options(page, "chosen_option") == ["", "keep nats", "drop nats"]
    assert 'name="rationale"' in page
    assert 'value="writer"' in page  # decided_by defaults to the caller
    assert 'name="question"' not in page


def test_resolving_through_the_browsable_form_records_the_chosen_option(make_user: Callable[..., User]) -> None:
    decision = DecisionFactory.create(key="DEC-0003", options=["left", "right"])
    client = logged_in(make_user("writer", write=True))

    response = client.post(
        "/decisions/DEC-0003/resolve",
        {"rationale": "Shorter.", "chosen_option": "right", "decided_by": "writer"},
        HTTP_ACCEPT="text/html",
    )

    decision.refresh_from_db()
    assert response.status_code == 200
    assert (decision.status, decision.chosen_option, decision.decided_by) == ("resolved", "right", "writer")
    assert OutboxEvent.objects.filter(subject="org.statehub.decision.resolved").count() == 1
    # The page after the POST still offers the resolution form, not a form of the decision's fields.
    assert 'name="rationale"' in response.content.decode()
    assert 'name="question"' not in response.content.decode()


def test_an_option_the_decision_does_not_offer_is_still_a_400(make_user: Callable[..., User]) -> None:
    DecisionFactory.create(key="DEC-0004", options=["left", "right"])
    api = client_for(make_user("writer", write=True))

    unknown = api.post("/decisions/DEC-0004/resolve", {"rationale": "r", "chosen_option": "up"}, format="json")
    number = api.post("/decisions/DEC-0004/resolve", {"rationale": "r", "chosen_option": 1}, format="json")

    assert unknown.status_code == 400
    assert unknown.json() == {"chosen_option": ["'up' is not one of the options (left, right)."]}
    assert number.status_code == 400
    assert list(number.json()) == ["chosen_option"]


@pytest.mark.parametrize(
    "path",
    ["/decisions/DEC-0005/resolve", "/domain-goals/goal-5/activate", "/repos/repo-5/sync", "/events/{event}/requeue"],
)
def test_get_on_an_action_answers_the_objects_state_and_changes_nothing(
    path: str, make_user: Callable[..., User]
) -> None:
    DecisionFactory.create(key="DEC-0005")
    DomainGoalFactory.create(key="goal-5")
    RepoFactory.create(slug="repo-5")
    event = _failed_event()
    before = list(OutboxEvent.objects.values_list("id", "status"))

    response = client_for(make_user("staff", write=True, staff=True)).get(path.format(event=event.id))

    assert response.status_code == 200
    body = response.json()
    assert body["url"] == "http://testserver" + path.format(event=event.id).rsplit("/", 1)[0] + "/"
    assert body.get("status") in ("open", "proposed", "active", "failed")
    assert list(OutboxEvent.objects.values_list("id", "status")) == before


def _failed_event() -> OutboxEvent:
    events.record(
        "org.statehub.repo.registered",
        {"repo_id": None, "repo_slug": "r", "domain_slug": None, "remote_url": "", "local_path": "", "name": ""},
    )
    event = OutboxEvent.objects.get()
    OutboxEvent.objects.filter(pk=event.pk).update(status=OutboxEvent.Status.FAILED)
    return event


def test_a_reader_sees_an_action_page_without_its_form(make_user: Callable[..., User]) -> None:
    DecisionFactory.create(key="DEC-0006")

    page = _html(logged_in(make_user("reader")), "/decisions/DEC-0006/resolve")

    assert "DEC-0006" in page
    assert 'name="rationale"' not in page


@pytest.mark.parametrize(
    ("model", "status", "offered"),
    [
        (Workstream, "active", ["active", "blocked", "backlog", "completed", "archived"]),
        (Workstream, "completed", ["completed", "archived"]),
        (Task, "done", ["todo", "done"]),
        (Task, "wait", ["wait", "todo", "progress", "done", "cancel"]),
    ],
)
def test_an_objects_page_offers_the_statuses_the_transition_table_allows(
    model: type[Task | Workstream], status: str, offered: list[str], make_user: Callable[..., User]
) -> None:
    path = {Workstream: "/workstreams/WS-1/", Task: "/tasks/TK-1/"}[model]
    TaskFactory.create(key="TK-1", workstream=WorkstreamFactory.create(key="WS-1"))
    model.objects.update(status=status)

    page = _html(logged_in(make_user("writer", write=True)), path)

    assert _select_options(page, "status") == offered
    assert offered == offered_statuses(model, status)
    assert 'data-method="PATCH"' in page


def test_the_patch_form_as_a_browser_sends_it_completes_a_workstream_once(make_user: Callable[..., User]) -> None:
    workstream = WorkstreamFactory.create(key="WS-2", status="active", owner="ana")
    client = logged_in(make_user("writer", write=True))
    form = {
        "key": "WS-2",
        "repo": workstream.repo.slug,
        "domain_goal": "",
        "title": workstream.title,
        "owner": "ana",
        "priority": str(workstream.priority),
        "status": "completed",
        "source_path": "",
        "source_hash": "",
    }

    response = client.patch("/workstreams/WS-2/", encode_multipart(BOUNDARY, form), content_type=MULTIPART_CONTENT)

    assert response.status_code == 200, response.content
    workstream.refresh_from_db()
    assert (workstream.status, workstream.owner, workstream.domain_goal) == ("completed", "ana", None)
    assert OutboxEvent.objects.filter(subject="org.statehub.workstream.completed").count() == 1


def test_a_create_form_offers_every_status_with_the_models_default_selected(make_user: Callable[..., User]) -> None:
    page = _html(logged_in(make_user("writer", write=True)), "/tasks/")

    assert _select_options(page, "status") == ["wait", "todo", "progress", "done", "cancel"]
    assert '<option value="todo" selected' in page
    assert '<option value="medium" selected' in page
