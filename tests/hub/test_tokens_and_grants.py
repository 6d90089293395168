"""Tokens (hashed, named, scoped, expiring) and domain grants, through the commands, the API and the admin."""

import datetime as dt
import hashlib
import importlib
import io
from typing import Any

import pytest
from django.apps import apps
from django.contrib.auth.models import Group, Permission, User
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from hub.models import ApiToken, DomainAccess
from hub.tokens import token_create
from tests.factories import DomainFactory
from tests.tokens import token_for

pytestmark = pytest.mark.django_db


def command(*arguments: str) -> str:
    out = io.StringIO()
    call_command(*arguments, stdout=out)
    return out.getvalue()


def client_with(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {secret}")
    return client


def test_no_token_is_stored_in_plain_text() -> None:
    user = User.objects.create_user("alice")
    DomainFactory.create(slug="alpha")
    secrets = [
        token_create(user=user, name="full").secret,
        token_create(user=user, name="scoped", domains=["alpha"], read_only=True).secret,
        token_for(user, name="another"),
    ]

    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM hub_apitoken")
        rows = cursor.fetchall()

    stored = " ".join(str(value) for row in rows for value in row)
    assert len(rows) == 3
    assert not [secret for secret in secrets if secret in stored]
    # What is kept: knox's SHA-512 digest of each secret, and its first 15 characters to find it by.
    digests = {row[0] for row in rows}
    assert digests == {hashlib.sha512(secret.encode()).hexdigest() for secret in secrets}


def test_an_expired_token_is_a_401_and_a_used_one_records_when_at_most_once_a_minute() -> None:
    user = User.objects.create_user("alice")
    issued = token_create(user=user, name="short", expires_in=dt.timedelta(hours=1))
    client = client_with(issued.secret)

    assert client.get("/tasks/").status_code == 200
    first_use = ApiToken.objects.get(pk=issued.token.pk).last_used_at
    assert client.get("/tasks/").status_code == 200
    assert ApiToken.objects.get(pk=issued.token.pk).last_used_at == first_use  # not written again within a minute
    assert first_use is not None

    ApiToken.objects.filter(pk=issued.token.pk).update(expiry=timezone.now() - dt.timedelta(seconds=1))
    expired = client.get("/tasks/")

    assert expired.status_code == 401
    assert expired.json()["detail"] == "Token expired."


def test_a_drf_token_is_hashed_by_the_migration_keeps_working_and_its_plain_key_is_gone() -> None:
    user = User.objects.create_user("legacy")
    key = "0123456789abcdef0123456789abcdef01234567"
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, created timestamptz NOT NULL, "
            "user_id integer NOT NULL UNIQUE)"
        )
        cursor.execute("INSERT INTO authtoken_token VALUES (%s, now() - interval '30 days', %s)", [key, user.pk])
    migration = importlib.import_module("hub.migrations.0008_hash_drf_tokens")

    with connection.schema_editor() as schema_editor:
        migration.hash_drf_tokens(apps, schema_editor)

    assert "authtoken_token" not in connection.introspection.table_names()
    token = ApiToken.objects.get(user=user)
    assert (token.name, token.expiry, token.token_key) == ("api", None, key[:15])
    assert token.created < timezone.now() - dt.timedelta(days=29)
    assert client_with(key).get("/tasks/").status_code == 200


def test_the_tokens_command_creates_lists_and_revokes() -> None:
    User.objects.create_user("alice")
    DomainFactory.create(slug="alpha")

    created = command(
        "tokens", "create", "alice", "agent", "--domain", "alpha", "--mcp-tool", "add_progress_event",
        "--expires-in-days", "30",
    )  # fmt: skip
    secret = created.splitlines()[-1]
    listed = command("tokens", "list", "alice")
    revoked = command("tokens", "revoke", "alice", "agent")

    assert created.startswith("Created alice/agent. The token (shown this once):")
    assert listed.startswith("alice\tagent\texpires 20")
    assert "last used never\tdomain alpha, mcp add_progress_event" in listed
    assert secret not in listed
    assert revoked == "Revoked alice/agent: it no longer works.\n"
    assert client_with(secret).get("/tasks/").status_code == 401


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["create", "nobody", "x"], "There is no user 'nobody'."),
        (["create", "alice", "x", "--domain", "nowhere"], "No such domain: nowhere."),
        (["create", "alice", "x", "--expires-in-days", "0"], "--expires-in-days must be positive."),
        (["revoke", "alice", "missing"], "'alice' has no token named 'missing'."),
    ],
)
def test_the_tokens_command_refuses_bad_input_with_a_message(arguments: list[str], message: str) -> None:
    User.objects.create_user("alice")

    with pytest.raises(CommandError, match=message.replace(".", r"\.")):
        command("tokens", *arguments)


def test_a_user_manages_their_own_tokens_through_the_api_and_a_scoped_token_cannot_mint_another() -> None:
    alice = User.objects.create_user("alice")
    User.objects.create_user("bob")
    token_for(User.objects.get(username="bob"), name="bobs")
    api = client_with(token_for(alice, name="main"))

    created = api.post("/tokens/", {"name": "ci", "read_only": True, "expires_in_days": 7}, format="json")
    again = api.post("/tokens/", {"name": "ci"}, format="json")
    listed = api.get("/tokens/").json()
    narrow = client_with(created.json()["token"])
    minted = narrow.post("/tokens/", {"name": "wider"}, format="json")
    deleted = api.delete("/tokens/ci/")
    missing = api.delete("/tokens/ci/")

    assert created.status_code == 201
    assert created.json()["read_only"] is True and created.json()["expiry"] is not None
    assert again.status_code == 409
    assert [row["name"] for row in listed] == ["ci", "main"]  # alice's only
    assert all("token" not in row for row in listed)
    assert minted.status_code == 403
    assert (deleted.status_code, missing.status_code) == (204, 404)
    assert narrow.get("/tasks/").status_code == 401


def test_the_domain_access_command_grants_changes_lists_and_revokes_each_in_the_history_as_command() -> None:
    User.objects.create_user("alice")
    Group.objects.create(name="custodians")
    DomainFactory.create(slug="alpha")

    outputs = [
        command("domain_access", "grant", "alice", "alpha", "--role", "viewer"),
        command("domain_access", "grant", "alice", "alpha", "--role", "editor"),
        command("domain_access", "grant", "group:custodians", "alpha"),
        command("domain_access", "list", "alpha"),
        command("domain_access", "revoke", "alice", "alpha"),
    ]

    assert outputs[:3] == [
        "Granted: alice is viewer of alpha.\n",
        "Changed: alice is editor of alpha.\n",
        "Granted: group:custodians is editor of alpha.\n",
    ]
    assert outputs[3] == "alpha\talice\teditor\nalpha\tgroup:custodians\teditor\n"
    assert outputs[4] == "Revoked: alice has no role on alpha.\n"
    rows = DomainAccess.history.order_by("history_date", "history_id")
    assert [(row.history_type, row.role, row.door) for row in rows] == [
        ("+", "viewer", "command"),
        ("~", "editor", "command"),
        ("+", "editor", "command"),
        ("-", "editor", "command"),
    ]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["grant", "nobody", "alpha"], "There is no user 'nobody'"),
        (["grant", "group:nobody", "alpha"], "There is no group 'nobody'."),
        (["grant", "alice", "nowhere"], "There is no domain 'nowhere'."),
        (["revoke", "alice", "alpha"], "'alice' has no role on 'alpha'."),
    ],
)
def test_the_domain_access_command_refuses_bad_input_with_a_message(arguments: list[str], message: str) -> None:
    User.objects.create_user("alice")
    DomainFactory.create(slug="alpha")

    with pytest.raises(CommandError, match=message.replace(".", r"\.")):
        command("domain_access", *arguments)


def test_org_admins_manage_members_through_the_api_others_only_read_them() -> None:
    DomainFactory.create(slug="alpha")
    User.objects.create_user("alice")
    org_admin = User.objects.create_user("operator")
    org_admin.user_permissions.set(
        Permission.objects.filter(codename__in=["add_domainaccess", "delete_domainaccess", "view_domainaccess"])
    )
    admin_api = client_with(token_for(org_admin))
    editor = User.objects.create_user("editor")
    DomainAccess.objects.create(domain_id=DomainFactory.create(slug="beta").pk, user=editor)
    editor_api = client_with(token_for(editor))

    granted = admin_api.post("/domains/alpha/members/", {"member": "alice", "role": "editor"}, format="json")
    kept = admin_api.post("/domains/alpha/members/", {"member": "alice", "role": "editor"}, format="json")
    refused = editor_api.post("/domains/alpha/members/", {"member": "editor"}, format="json")
    listed = editor_api.get("/domains/alpha/members/")
    unknown = admin_api.post("/domains/alpha/members/", {"member": "nobody"}, format="json")
    no_member = admin_api.delete("/domains/alpha/members/")
    revoked = admin_api.delete("/domains/alpha/members/?member=alice")
    no_domain = admin_api.get("/domains/nowhere/members/")

    assert (granted.status_code, kept.status_code) == (201, 200)
    assert granted.json()["member"] == "alice" and granted.json()["role"] == "editor"
    assert refused.status_code == 403
    assert [row["member"] for row in listed.json()] == ["alice"]
    assert (unknown.status_code, no_member.status_code, revoked.status_code) == (404, 400, 204)
    assert no_domain.status_code == 404
    assert not DomainAccess.objects.filter(user__username="alice").exists()
    rows = DomainAccess.history.filter(user__username="alice").order_by("history_date", "history_id")
    assert [(row.history_type, row.door, row.history_user) for row in rows] == [
        ("+", "api", org_admin),
        ("-", "api", org_admin),
    ]


def test_the_domain_page_of_the_admin_grants_members_inline_recorded_as_admin(
    admin_client: Client, admin_user: Any
) -> None:
    domain = DomainFactory.create(slug="alpha", name="Alpha")
    alice = User.objects.create_user("alice")

    response = admin_client.post(
        reverse("admin:hub_domain_change", args=[domain.pk]),
        {
            "slug": "alpha",
            "name": "Alpha",
            "description": "",
            "status": "active",
            "access-TOTAL_FORMS": "1",
            "access-INITIAL_FORMS": "0",
            "access-0-user": str(alice.pk),
            "access-0-group": "",
            "access-0-role": "editor",
        },
    )

    assert response.status_code == 302
    row = DomainAccess.history.get()
    assert (row.user, row.role, row.door, row.history_user) == (alice, "editor", "admin", admin_user)


def test_the_admin_creates_a_token_showing_its_secret_once(admin_client: Client) -> None:
    alice = User.objects.create_user("alice")

    response = admin_client.post(
        reverse("admin:hub_apitoken_add"),
        {"user": str(alice.pk), "name": "ci", "expires_in_days": "3", "read_only": "on"},
        follow=True,
    )

    token = ApiToken.objects.get(user=alice)
    message = next(str(m) for m in response.context["messages"] if "shown this once" in str(m))
    secret = message.rsplit(": ", 1)[1]
    assert token.read_only and token.expiry is not None
    assert client_with(secret).get("/tasks/").status_code == 200
    assert secret not in admin_client.get(reverse("admin:hub_apitoken_changelist")).content.decode()
