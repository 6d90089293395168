"""`statehub.security.client_ip`: the socket peer, or exactly DJANGO_TRUSTED_PROXY_COUNT hops from the right."""

import logging
from typing import Any

import pytest
from django.test import RequestFactory

from statehub import security
from statehub.security import client_address, client_ip

PEER = "127.0.0.1"


def request_from(forwarded: str | None = None, *, peer: str = PEER) -> Any:
    request = RequestFactory().get("/health", REMOTE_ADDR=peer)
    if forwarded is not None:
        request.META["HTTP_X_FORWARDED_FOR"] = forwarded
    return request


@pytest.fixture
def behind_one_proxy(settings: Any) -> Any:
    settings.TRUST_PROXY_HEADERS = True
    settings.TRUSTED_PROXY_COUNT = 1
    return settings


@pytest.fixture(autouse=True)
def fresh_warnings() -> Any:
    security._warned.clear()
    yield
    security._warned.clear()


@pytest.mark.parametrize("forwarded", [None, "203.0.113.9", "203.0.113.9, 198.51.100.4", "garbage"])
def test_without_trusted_proxy_headers_the_client_is_the_peer_whatever_was_forwarded(
    settings: Any, forwarded: str | None
) -> None:
    settings.TRUST_PROXY_HEADERS = False

    assert client_ip(request_from(forwarded)) == PEER


def test_behind_one_proxy_the_client_is_the_hop_it_wrote(behind_one_proxy: Any) -> None:
    assert client_ip(request_from("198.51.100.4")) == "198.51.100.4"


def test_hops_the_client_sent_left_of_the_proxys_are_ignored(behind_one_proxy: Any) -> None:
    # What nginx's $proxy_add_x_forwarded_for makes of a forged header: the forgery, then the real peer.
    assert client_ip(request_from("203.0.113.9, 10.9.9.9,  198.51.100.4")) == "198.51.100.4"


def test_the_count_takes_that_many_hops_from_the_right(behind_one_proxy: Any) -> None:
    behind_one_proxy.TRUSTED_PROXY_COUNT = 2
    # forged, client (written by the balancer), balancer (written by nginx)
    assert client_ip(request_from("203.0.113.9, 198.51.100.4, 10.0.0.2")) == "198.51.100.4"


def test_without_the_header_the_client_is_the_peer(behind_one_proxy: Any) -> None:
    assert client_ip(request_from(None)) == PEER
    assert client_ip(request_from(" , ")) == PEER


def test_fewer_hops_than_the_count_is_the_peer_and_warned_once(
    behind_one_proxy: Any, caplog: pytest.LogCaptureFixture
) -> None:
    behind_one_proxy.TRUSTED_PROXY_COUNT = 3

    with caplog.at_level(logging.WARNING, logger="statehub.security"):
        addresses = [client_ip(request_from("203.0.113.9, 198.51.100.4")) for _ in range(3)]

    assert addresses == [PEER] * 3
    assert [record.getMessage() for record in caplog.records if "fewer than" in record.getMessage()] == [
        "X-Forwarded-For holds 2 hop(s), fewer than DJANGO_TRUSTED_PROXY_COUNT=3: the client is taken to be the "
        "socket peer. Check the proxies in front of the hub against the setting."
    ]


@pytest.mark.parametrize("hop", ["unknown", "198.51.100.4:5678", "<script>", "999.1.1.1"])
def test_a_trusted_hop_that_is_not_an_address_is_the_peer(behind_one_proxy: Any, hop: str) -> None:
    assert client_ip(request_from(f"203.0.113.9, {hop}")) == PEER


def test_addresses_are_written_one_way(behind_one_proxy: Any) -> None:
    assert client_ip(request_from("2001:DB8:0:0::1")) == "2001:db8::1"


def test_a_wsgi_environ_gives_the_same_answer_as_its_request(behind_one_proxy: Any) -> None:
    environ = {"REMOTE_ADDR": PEER, "HTTP_X_FORWARDED_FOR": "203.0.113.9, 198.51.100.4"}

    assert client_address(environ) == client_ip(request_from(environ["HTTP_X_FORWARDED_FOR"])) == "198.51.100.4"
