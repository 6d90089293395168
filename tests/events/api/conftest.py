"""The API clients of the hub's API tests, shared with the outbox endpoints."""

from tests.hub.api.conftest import anon_api, api, make_user, plain_http, reader_api, staff_api, writer

__all__ = ["anon_api", "api", "make_user", "plain_http", "reader_api", "staff_api", "writer"]
