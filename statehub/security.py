"""Who the client is: one address rule for the login lockout, every throttle and the access log.

Behind a reverse proxy the socket peer is the proxy, so the client's address has to come from
`X-Forwarded-For`. Only the hops our own proxies wrote can be believed: everything to their left
is whatever the client sent. With `DJANGO_TRUSTED_PROXY_COUNT` proxies in front of gunicorn, each
appending (or, for the outermost, setting) one hop, the client is the N-th hop from the right.
A header with fewer hops than that did not come through the proxies the deployment describes, and
an entry that is not an address is not one our proxy wrote; both fall back to the socket peer,
the one address nobody could forge, at the price of sharing its bucket (a warning says so once).
"""

import ipaddress
import logging
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.http import HttpRequest

logger = logging.getLogger(__name__)

_warned: set[str] = set()


def client_ip(request: HttpRequest) -> str:
    """The client's address for the request: the socket peer, or the trusted hop of `X-Forwarded-For`."""
    return client_address(request.META)


def client_address(environ: Mapping[str, Any]) -> str:
    """The client's address from a WSGI environ (or a request's `META`, the same keys).

    With `DJANGO_TRUST_PROXY_HEADERS` off: `REMOTE_ADDR`, whatever headers came along. With it on:
    the `DJANGO_TRUSTED_PROXY_COUNT`-th hop of `X-Forwarded-For` counted from the right, or
    `REMOTE_ADDR` when the header is absent, too short, or that hop is not an IP address.
    """
    peer = str(environ.get("REMOTE_ADDR") or "")
    if not settings.TRUST_PROXY_HEADERS:
        return peer
    forwarded = str(environ.get("HTTP_X_FORWARDED_FOR") or "")
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    if not hops:
        return peer
    count = settings.TRUSTED_PROXY_COUNT
    if len(hops) < count:
        _warn_once(
            "short",
            "X-Forwarded-For holds %d hop(s), fewer than DJANGO_TRUSTED_PROXY_COUNT=%d: the client is taken to be "
            "the socket peer. Check the proxies in front of the hub against the setting.",
            len(hops),
            count,
        )
        return peer
    try:
        return str(ipaddress.ip_address(hops[-count]))
    except ValueError:
        _warn_once(
            "invalid",
            "X-Forwarded-For's trusted hop %r is not an IP address: the client is taken to be the socket peer. "
            "The proxy should send $remote_addr (docs/deploy.md).",
            hops[-count][:64],
        )
        return peer


def _warn_once(kind: str, message: str, *args: object) -> None:
    """A misconfigured proxy would otherwise write this line on every request."""
    if kind not in _warned:
        _warned.add(kind)
        logger.warning(message, *args)
