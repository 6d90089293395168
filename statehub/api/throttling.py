"""Throttles keyed on the one client-address rule, counting in the cache every web worker shares.

DRF's `SimpleRateThrottle.get_ident` reads `X-Forwarded-For` as sent, whatever
`DJANGO_TRUST_PROXY_HEADERS` says, so a client choosing its own header chose its own bucket. Every
throttle of the hub (the defaults in `REST_FRAMEWORK` and each view's own) derives from these
classes, whose identity is `statehub.security.client_ip`. The counters live in Django's default
cache (Redis, or the database cache: settings), never in one worker's memory.

A throttle protects the hub; it must not take it down. When the cache cannot be read or written
(Redis away, the database restarting) the request goes through uncounted, and for
`CACHE_RETRY_AFTER_S` the throttles of this process stop asking, so a hung cache costs one request
its socket timeout, not every request (DESIGN §6.1: a response never fails because Redis is down).
"""

import logging
import threading
import time
from typing import Any

from django.db import DatabaseError
from redis.exceptions import RedisError
from rest_framework import throttling
from rest_framework.request import Request

from statehub.security import client_ip

logger = logging.getLogger(__name__)

CACHE_RETRY_AFTER_S = 5.0
# What the cache backends raise when their store is away (the database cache, Redis, a socket);
# anything else is a bug and fails loudly.
CACHE_ERRORS = (DatabaseError, RedisError, OSError)

_lock = threading.Lock()
_cache_unavailable_until = 0.0


class ClientAddressThrottle(throttling.SimpleRateThrottle):
    """A rate throttle keyed on `statehub.security.client_ip` that lets requests through when its cache fails."""

    def get_ident(self, request: Request) -> str:
        return client_ip(request)

    def allow_request(self, request: Request, view: Any) -> bool:
        global _cache_unavailable_until
        if time.monotonic() < _cache_unavailable_until:
            return True
        try:
            return super().allow_request(request, view)
        except CACHE_ERRORS:
            with _lock:
                first = time.monotonic() >= _cache_unavailable_until
                _cache_unavailable_until = time.monotonic() + CACHE_RETRY_AFTER_S
            if first:
                logger.warning(
                    "The throttle cache failed; requests go through uncounted for %.0f s.",
                    CACHE_RETRY_AFTER_S,
                    exc_info=True,
                )
            return True


class AnonRateThrottle(ClientAddressThrottle, throttling.AnonRateThrottle):
    """Anonymous callers, per client address (`API_THROTTLE_ANON`)."""


class UserRateThrottle(ClientAddressThrottle, throttling.UserRateThrottle):
    """Authenticated callers per user, anonymous ones per client address (`API_THROTTLE_USER`)."""


def reset_cache_backoff() -> None:
    """Ask the cache again at the next request (tests)."""
    global _cache_unavailable_until
    with _lock:
        _cache_unavailable_until = 0.0
