"""The admin, the browsable API and /docs/ in a real headless Chromium (Debian's package, driven by Playwright).

Screenshots land in `test-artifacts/` (git-ignored). Skipped, with the reason, where no browser is installed.
"""

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from django.contrib.auth import get_user_model

from tests.e2e.conftest import needs_chromium
from tests.factories import RepoFactory, WorkstreamFactory

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PASSWORD = "browser-test-password"

pytestmark = [pytest.mark.django_db(transaction=True), needs_chromium]


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    context = browser.new_context()
    page = context.new_page()
    yield page
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()


@pytest.fixture
def admin_user() -> Any:
    return get_user_model().objects.create_superuser("browser-admin", "admin@example.org", PASSWORD)


def log_in(page: Any, base_url: str) -> None:
    page.goto(f"{base_url}/admin/login/")
    page.fill("#id_username", "browser-admin")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{base_url}/admin/")


def test_completing_a_workstream_in_the_admin_shows_its_event_in_the_outbox(page, live_server, admin_user):
    workstream = WorkstreamFactory.create(key="CUST-WP-0040", status="active")
    log_in(page, live_server.url)

    page.goto(f"{live_server.url}/admin/hub/workstream/{workstream.pk}/change/")
    page.select_option("#id_status", "completed")
    page.click("input[name=_save]")
    page.wait_for_selector(".messagelist .success")

    page.goto(f"{live_server.url}/admin/events/outboxevent/")
    row = page.locator("#result_list tbody tr").filter(has_text="org.statehub.workstream.completed")
    assert row.count() == 1


def test_the_admin_status_select_offers_only_what_the_transition_table_allows(page, live_server, admin_user):
    workstream = WorkstreamFactory.create(status="completed")
    log_in(page, live_server.url)

    page.goto(f"{live_server.url}/admin/hub/workstream/{workstream.pk}/change/")
    offered = page.locator("#id_status option").evaluate_all("options => options.map(option => option.value)")

    assert offered == ["completed", "archived"]


def test_the_browsable_api_renders_a_list_and_accepts_a_post(page, live_server, admin_user):
    RepoFactory.create(slug="listed-repo")
    log_in(page, live_server.url)

    page.goto(f"{live_server.url}/repos/")
    assert "listed-repo" in page.content()

    page.click("text=Raw data")
    page.fill("#id__content", '{"slug": "posted-repo", "name": "Posted"}')
    page.click("#post-generic-content-form button[type=submit], #post-generic-content-form .btn-primary")
    page.wait_for_selector("text=HTTP 201 Created")
    assert "posted-repo" in page.content()


def test_the_api_docs_render_without_external_requests(page, live_server, admin_user):
    log_in(page, live_server.url)
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))

    page.goto(f"{live_server.url}/docs/")
    page.wait_for_selector(".swagger-ui .info .title")

    assert "State Hub API" in page.content()
    live_host = urlparse(live_server.url).netloc
    external = [
        url for url in requested if urlparse(url).scheme in ("http", "https") and urlparse(url).netloc != live_host
    ]
    assert external == []
