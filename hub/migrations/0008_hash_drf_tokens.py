"""Existing DRF tokens become hashed knox tokens (`hub.ApiToken`) that keep working; their plain keys are dropped.

Each `authtoken_token` row (a 40-character key in plain text) becomes an unscoped, non-expiring
token named `api` of the same user, stored as knox stores every token: the SHA-512 digest of the
key and its first 15 characters. Clients keep sending the same `Authorization: Token <key>`. The
old table is then dropped (`rest_framework.authtoken` is no longer installed), so no key remains in
plain text. Irreversible: the keys cannot be recovered from their digests.
"""

import hashlib

from django.db import migrations

OLD_TABLE = "authtoken_token"
TOKEN_KEY_LENGTH = 15  # knox.settings.CONSTANTS.TOKEN_KEY_LENGTH
MIGRATED_NAME = "api"


def digest(key: str) -> str:
    """knox's digest of a token (knox.crypto.hash_token with its default SHA-512)."""
    return hashlib.sha512(key.encode("utf-8")).hexdigest()


def hash_drf_tokens(apps, schema_editor):  # type: ignore[no-untyped-def]
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        if OLD_TABLE not in connection.introspection.table_names(cursor):
            return
        cursor.execute(f"SELECT key, user_id, created FROM {OLD_TABLE}")
        rows = cursor.fetchall()
    api_token = apps.get_model("hub", "ApiToken")
    for key, user_id, created in rows:
        token = api_token(
            digest=digest(key), token_key=key[:TOKEN_KEY_LENGTH], user_id=user_id, name=MIGRATED_NAME, expiry=None
        )
        token.save(force_insert=True)
        # `created` is auto_now_add: set the old token's creation time afterwards.
        api_token._base_manager.filter(pk=token.pk).update(created=created)
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {OLD_TABLE}")
        cursor.execute("DELETE FROM django_migrations WHERE app = 'authtoken'")


class Migration(migrations.Migration):
    dependencies = [("hub", "0007_domain_access_and_api_tokens")]

    operations = [migrations.RunPython(hash_drf_tokens, migrations.RunPython.noop, elidable=True)]
