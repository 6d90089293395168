"""API clients for each kind of caller: anonymous, read-only, writer (model permissions) and staff."""

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from rest_framework.test import APIClient

from tests.tokens import token_for


@pytest.fixture(autouse=True)
def plain_http(settings: Any) -> None:
    """The test client speaks plain HTTP; production redirects that to HTTPS."""
    settings.SECURE_SSL_REDIRECT = False


def client_for(user: User | None) -> APIClient:
    """A client that sends the user's token (or nothing for anonymous)."""
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(user)}")
    return client


@pytest.fixture
def make_user(db: None) -> Callable[..., User]:
    def make(username: str, *, write: bool = False, staff: bool = False) -> User:
        user = User.objects.create_user(username=username, password="pw-for-tests-only", is_staff=staff)
        if write:
            user.user_permissions.set(
                Permission.objects.filter(content_type__app_label__in=["hub", "events"]).exclude(
                    codename__startswith="delete_"
                )
            )
        return user

    return make


@pytest.fixture
def writer(make_user: Callable[..., User]) -> User:
    return make_user("writer", write=True)


@pytest.fixture
def api(writer: User) -> APIClient:
    """A caller with the add/change permissions of every hub and events model."""
    return client_for(writer)


@pytest.fixture
def reader_api(make_user: Callable[..., User]) -> APIClient:
    """An authenticated caller with no model permissions: may read, may not write."""
    return client_for(make_user("reader"))


@pytest.fixture
def anon_api() -> APIClient:
    return client_for(None)


@pytest.fixture
def staff_api(make_user: Callable[..., User]) -> APIClient:
    return client_for(make_user("staff", staff=True))
