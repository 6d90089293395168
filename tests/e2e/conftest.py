"""End-to-end tests share the event tests' private-stream fixture."""

from tests.events.conftest import jetstream  # noqa: F401 - fixture re-exported for tests/e2e
