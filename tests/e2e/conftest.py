"""End-to-end tests share the event tests' fixtures (private stream, test database URL)."""

from tests.events.conftest import jetstream, test_database_url  # noqa: F401 - fixtures re-exported for tests/e2e
