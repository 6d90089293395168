"""What a person does with the hub in a real headless Chromium: log in, click through, complete, resolve, search.

Also the admin's decision form and its confirmation before a change a workplan file contradicts.

Each flow saves a screenshot of where it ended in the test's own output directory (`tmp_path`).
"""

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model

from events.models import OutboxEvent
from hub.models import Decision, Workstream
from hub.reconcile import reconcile_repo
from tests.e2e.conftest import needs_chromium
from tests.factories import DecisionFactory, DomainFactory, RepoFactory, TaskFactory, WorkstreamFactory
from tests.hub.reconcile.support import register

PASSWORD = "browser-flow-password"

pytestmark = [pytest.mark.django_db(transaction=True), needs_chromium]


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.fixture
def person() -> Any:
    """Someone who runs the hub: may see and change everything."""
    return get_user_model().objects.create_superuser("ana", "ana@example.org", PASSWORD)


def screenshot(page: Any, tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 0
    return path


def log_in_to_the_api(page: Any, base_url: str, next_path: str) -> None:
    """Through the browsable API's own login page, landing where the person was going."""
    page.goto(f"{base_url}{next_path}")
    page.wait_for_url(re.compile(r"/api-auth/login/"))
    page.fill("#id_username", "ana")
    page.fill("#id_password", PASSWORD)
    page.click("form#login-form [type=submit], form [type=submit]")
    page.wait_for_url(f"{base_url}{next_path}")


def follow_link(page: Any, url_ending: str) -> None:
    """Click the link in the response whose address ends as given (the browsable API makes URLs links)."""
    page.locator(f'.response-info a[href$="{url_ending}"]').first.click()
    page.wait_for_load_state()


@pytest.fixture
def workstream() -> Any:
    domain = DomainFactory.create(slug="custodian")
    repo = RepoFactory.create(slug="custodian-repo", domain=domain)
    workstream = WorkstreamFactory.create(key="CUST-WP-0040", repo=repo, status="active", title="Delegate automations")
    TaskFactory.create(key="CUST-WP-0040-T05", workstream=workstream, title="Write the delegation protocol")
    TaskFactory.create(key="CUST-WP-0040-T06", workstream=workstream, title="Migrate the cron jobs")
    TaskFactory.create(key="OTHER-WP-0001-T01", title="Somebody else's task")
    return workstream


def test_a_person_logs_in_and_follows_a_workstream_to_its_repo_and_its_tasks(
    page: Any, live_server: Any, person: Any, workstream: Any, tmp_path: Path
) -> None:
    log_in_to_the_api(page, live_server.url, "/workstreams/CUST-WP-0040/")
    assert page.title() == "Workstream Instance · State Hub"
    screenshot(page, tmp_path, "workstream")

    follow_link(page, "/repos/custodian-repo/")
    assert page.url == f"{live_server.url}/repos/custodian-repo/"
    assert page.title() == "Repo Instance · State Hub"
    screenshot(page, tmp_path, "repo")

    page.go_back()
    follow_link(page, "/tasks/?workstream=CUST-WP-0040")
    content = page.locator(".response-info").inner_text()
    assert page.title() == "Task List · State Hub"
    assert "CUST-WP-0040-T05" in content
    assert "CUST-WP-0040-T06" in content
    assert "OTHER-WP-0001-T01" not in content
    screenshot(page, tmp_path, "tasks")


def test_completing_a_workstream_in_the_admin_records_one_event(
    page: Any, live_server: Any, person: Any, workstream: Any, tmp_path: Path
) -> None:
    page.goto(f"{live_server.url}/admin/login/?next=/admin/hub/workstream/")
    page.fill("#id_username", "ana")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.click("text=CUST-WP-0040")

    page.select_option("#id_status", "completed")
    page.click("input[name=_save]")
    page.wait_for_selector(".messagelist .success")
    screenshot(page, tmp_path, "admin-workstream-completed")

    workstream.refresh_from_db()
    assert workstream.status == "completed"
    assert OutboxEvent.objects.filter(subject="org.statehub.workstream.completed").count() == 1


def test_resolving_a_decision_through_the_browsable_form_with_one_of_its_options(
    page: Any, live_server: Any, person: Any, workstream: Any, tmp_path: Path
) -> None:
    DecisionFactory.create(
        key="DEC-0012", title="Event bus", options=["keep nats", "move to kafka"], workstream=workstream
    )
    log_in_to_the_api(page, live_server.url, "/decisions/DEC-0012/")

    follow_link(page, "/decisions/DEC-0012/resolve")
    assert page.title() == "Resolve decision · State Hub"
    offered = page.locator("#post-object-form select[name=chosen_option] option").evaluate_all(
        "options => options.map(option => option.value)"
    )
    assert offered == ["", "keep nats", "move to kafka"]
    page.fill("#post-object-form textarea[name=rationale]", "Already run it; nothing to migrate.")
    page.select_option("#post-object-form select[name=chosen_option]", "keep nats")
    screenshot(page, tmp_path, "resolve-form")
    page.click("#post-object-form button.btn-primary")
    page.wait_for_selector("text=HTTP 200 OK")
    screenshot(page, tmp_path, "resolved")

    decision = Decision.objects.get(key="DEC-0012")
    assert (decision.status, decision.chosen_option, decision.decided_by) == ("resolved", "keep nats", "ana")
    assert OutboxEvent.objects.filter(subject="org.statehub.decision.resolved").count() == 1


def test_searching_a_list_from_its_filters(
    page: Any, live_server: Any, person: Any, workstream: Any, tmp_path: Path
) -> None:
    log_in_to_the_api(page, live_server.url, "/tasks/")

    page.click("button:has-text('Filters')")
    page.fill("#filtersModal input[name=search]", "delegation")
    page.press("#filtersModal input[name=search]", "Enter")
    page.wait_for_url(re.compile(r"search=delegation"))
    content = page.locator(".response-info").inner_text()
    screenshot(page, tmp_path, "search")

    assert '"count": 1' in content
    assert "CUST-WP-0040-T05" in content
    assert "CUST-WP-0040-T06" not in content


def log_in_to_the_admin(page: Any, base_url: str, next_path: str) -> None:
    page.goto(f"{base_url}/admin/login/?next={next_path}")
    page.fill("#id_username", "ana")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{base_url}{next_path}")


def test_the_api_login_page_is_branded_state_hub(page: Any, live_server: Any, person: Any, tmp_path: Path) -> None:
    page.goto(f"{live_server.url}/workstreams/")
    page.wait_for_url(re.compile(r"/api-auth/login/"))
    screenshot(page, tmp_path, "api-login")

    assert page.title() == "Log in · State Hub"
    assert page.locator("h3").first.inner_text() == "State Hub"
    assert "Django REST framework" not in page.content()


def test_the_admin_decision_form_edits_options_as_a_list_and_resolves_with_one_of_them(
    page: Any, live_server: Any, person: Any, workstream: Any, tmp_path: Path
) -> None:
    decision = DecisionFactory.create(key="DEC-0012", title="Event bus", options=["keep nats", "move to kafka"])
    change_path = f"/admin/hub/decision/{decision.pk}/change/"
    log_in_to_the_admin(page, live_server.url, change_path)

    assert page.input_value("textarea#id_options") == "keep nats\nmove to kafka"
    page.fill("textarea#id_options", "keep nats\nmove to kafka\n\nstay on redis\n")
    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist .success")
    offered = page.locator("select#id_chosen_option option").evaluate_all("options => options.map(o => o.value)")
    assert offered == ["", "keep nats", "move to kafka", "stay on redis"]

    page.select_option("#id_status", "resolved")
    page.fill("#id_rationale", "Already run it; nothing to migrate.")
    page.select_option("select#id_chosen_option", "stay on redis")
    screenshot(page, tmp_path, "admin-decision-form")
    page.click("input[name=_save]")
    page.wait_for_selector(".messagelist .success")

    decision = Decision.objects.get(key="DEC-0012")
    assert decision.options == ["keep nats", "move to kafka", "stay on redis"]
    assert (decision.status, decision.chosen_option, decision.decided_by) == ("resolved", "stay on redis", "ana")
    assert OutboxEvent.objects.filter(subject="org.statehub.decision.resolved").count() == 1


def test_completing_a_workstream_its_workplan_file_calls_active_asks_first_naming_the_file(
    page: Any, live_server: Any, person: Any, settings: Any, tmp_path: Path
) -> None:
    settings.STATEHUB_REPO_ROOTS = [str(tmp_path)]
    reconcile_repo(repo=register(tmp_path, "clean"), fix=True)
    described = Workstream.objects.get(key="CUST-WP-0040")
    log_in_to_the_admin(page, live_server.url, "/admin/hub/workstream/")

    page.check(f'input[name=_selected_action][value="{described.pk}"]')
    page.select_option("select[name=action]", "complete_selected")
    page.click("button[name=index]")
    page.wait_for_selector("body.despite-workplan-confirmation")
    text = page.locator("#content").inner_text()
    screenshot(page, tmp_path, "admin-confirm-despite-workplan")

    assert "workplans/CUST-WP-0040-delegate-maintenance.md" in text
    assert "a standing conflict at every sync until the file says completed" in text
    assert Workstream.objects.get(pk=described.pk).status == "active"
    assert not OutboxEvent.objects.filter(subject="org.statehub.workstream.completed").exists()

    page.click("#content form input[type=submit]")
    page.wait_for_selector(".messagelist .success")

    assert "1 workstream(s) completed." in page.locator(".messagelist").inner_text()
    assert Workstream.objects.get(pk=described.pk).status == "completed"
    assert OutboxEvent.objects.filter(subject="org.statehub.workstream.completed").count() == 1
