"""The hub's replay over HTTP: `GET /events/?after=` or `?since=`, one stream incarnation, page by page.

Both forms answer published events in publish order (stream sequence) with cursor pagination:
the consumer follows `next` until it is null. `stream_created` pins the replay to one stream
incarnation. `?after=<seq>` only means something in the live incarnation, so for a former one
the hub answers 409 `stream_recreated`, and the consumer asks again by time (`?since=`).
"""

import datetime as dt
import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from reference_consumer.state import Position, rfc3339

PAGE_SIZE = 500
# The replay by time starts this much before the last handled event's timestamp: `since` compares
# with the hub's `published_at`, stamped by another clock than the envelope's `timestamp`. Going
# further back is free: events at or before the position are skipped by stream sequence.
SINCE_MARGIN = dt.timedelta(minutes=15)
REQUEST_TIMEOUT_S = 30


class StreamRecreated(Exception):
    """The replay asked `?after=` of a stream incarnation that is no longer the live one (409)."""


class HubUnavailable(Exception):
    """The hub did not answer, or answered 5xx or 429: worth asking again later."""


class HubReplay:
    """Reads replay pages from the hub's `/events/` with a token."""

    def __init__(self, hub_url: str, token: str) -> None:
        self.events_url = hub_url.rstrip("/") + "/events/"
        self.token = token

    def after_url(self, position: Position) -> str:
        """The first page of everything published after `position` in its incarnation."""
        return self._url(after=str(position.stream_seq), stream_created=position.stream_created)

    def since_url(self, position: Position) -> str:
        """The first page of `position`'s incarnation from shortly before its event's time."""
        since = dt.datetime.fromisoformat(position.event_time) - SINCE_MARGIN
        return self._url(since=rfc3339(since), stream_created=position.stream_created)

    def page(self, url: str) -> dict[str, Any]:
        """One page (`next`, `results`); raises `StreamRecreated`, `HubUnavailable`, or `HTTPError` for the rest."""
        request = urllib.request.Request(  # noqa: S310 - the operator's hub URL
            url, headers={"Authorization": f"Token {self.token}", "Accept": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_S) as response:  # noqa: S310
                page: dict[str, Any] = json.load(response)
                return page
        except urllib.error.HTTPError as error:
            if error.code == 409 and _error_code(error) == "stream_recreated":
                raise StreamRecreated(url) from error
            if error.code >= 500 or error.code == 429:
                raise HubUnavailable(f"{error.code} from {url}") from error
            raise
        except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
            raise HubUnavailable(f"{url}: {error}") from error

    def _url(self, **params: str) -> str:
        return self.events_url + "?" + urllib.parse.urlencode({**params, "page_size": str(PAGE_SIZE)})


def _error_code(error: urllib.error.HTTPError) -> str:
    try:
        body = json.load(error)
    except ValueError:
        return ""
    return str(body.get("code", "")) if isinstance(body, dict) else ""
