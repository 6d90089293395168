"""Settings for the test suite and type checking: production settings, with hashing that costs nothing.

Everything a test proves is proved against `statehub.settings` (DEBUG off, the real middleware,
database options and security settings); only what makes tests slow without making them truer
changes here, as cookiecutter-django's `config/settings/test.py` teaches. Never used in production.
"""

import os

# Tests and mypy need some secret key, never a real one: a placeholder when the environment has none.
os.environ.setdefault("DJANGO_SECRET_KEY", "test-only-not-a-secret-" + "x" * 40)

from statehub.settings import *  # noqa: F403

# Production hashes a password with PBKDF2 at 1,000,000 iterations (about 0.25 s of CPU); every test
# user would pay that. What a password protects is tested through Django's API, whatever the hasher.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# A commit need not wait for its WAL to reach the disk: a test database is thrown away, never
# recovered after a crash, and what a commit makes visible to other sessions is unchanged.
DATABASES["default"]["OPTIONS"]["options"] = " ".join(  # noqa: F405
    filter(None, [DATABASES["default"]["OPTIONS"].get("options", ""), "-c synchronous_commit=off"])  # noqa: F405
)

# Throttle counters in process memory: production's shared cache (PostgreSQL's `statehub_cache` table
# or Redis) costs a count, a read and a write per request. Sharing the counters between processes is
# proved where it matters: tests/test_throttling.py selects the database cache, and the proxy test
# runs gunicorn under production settings. tests/conftest.py empties this cache before every test.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "statehub-tests"}}
