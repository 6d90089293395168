"""Who the client is, through a real nginx configured as docs/deploy.md says, in front of the Procfile's gunicorn.

nginx (Debian's, run unprivileged with a private prefix) serves the guide's server block over TLS
on a loopback port; gunicorn runs the guide's `web` command (4 workers) with production settings,
`DJANGO_TRUST_PROXY_HEADERS=true` and the throttle counters in Redis as the guide sets them (in
PostgreSQL's cache table where no Redis answers). Clients with distinct addresses connect from
127.0.0.2, 127.0.0.3, …, which is what nginx's `$remote_addr` sees. Through the proxy: wrong
passwords lock that client only, a forged `X-Forwarded-For` bypasses neither the lockout nor the
`/health` throttle, whose count holds across gunicorn's workers, and `X-Forwarded-Proto` works.
"""

import http.client
import os
import re
import secrets
import shutil
import ssl
import subprocess
import sys
import tempfile
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector

from statehub import devservers
from tests import childprocess
from tests.childprocess import wait_for
from tests.e2e.test_deploy_smoke import DEPLOY_GUIDE, procfile, stop

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ROOT = Path(settings.BASE_DIR)
NGINX = os.environ.get("STATEHUB_NGINX", "/usr/sbin/nginx")
PASSWORD = "a-long-password-for-the-proxy-test"
HEALTH_LIMIT = 5
# A Redis database of its own (the deploy smoke run uses 12, the suite's broker 14/15).
PROXY_CACHE_DB = 13


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false")


def needed_tool(path: str, install: str) -> str:
    """The tool's path, or skip (fail under CI, which installs it) where it is missing."""
    found = shutil.which(path)
    if found:
        return found
    problem = f"no {path} ({install})"
    if in_ci():
        pytest.fail(f"{problem}: CI must run the hub behind a real nginx.")
    pytest.skip(problem)


def guide_server_block() -> str:
    """The nginx server block of the deploy guide, exactly as written."""
    blocks = re.findall(r"```nginx\n(.*?)```", DEPLOY_GUIDE.read_text(), flags=re.DOTALL)
    assert len(blocks) == 1, f"expected one nginx block in {DEPLOY_GUIDE}"
    return blocks[0]


def replaced(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"the guide's nginx block no longer has {old!r}"
    return text.replace(old, new)


def nginx_config(prefix: Path, *, listen: int, upstream: int, certificate: Path, key: Path) -> str:
    """The guide's block on a loopback port with a test certificate, inside a minimal unprivileged nginx.conf."""
    server = replaced(guide_server_block(), "listen 443 ssl;", f"listen 127.0.0.1:{listen} ssl;")
    server = replaced(server, "# ssl_certificate ...;", f"ssl_certificate {certificate}; ssl_certificate_key {key};")
    server = replaced(server, "proxy_pass http://127.0.0.1:8000;", f"proxy_pass http://127.0.0.1:{upstream};")
    temp = {kind: prefix / kind for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")}
    return "\n".join(
        [
            "daemon off;",
            "worker_processes 1;",
            f"pid {prefix / 'nginx.pid'};",
            "events { worker_connections 64; }",
            "http {",
            f"    access_log {prefix / 'access.log'};",
            *(f"    {kind}_temp_path {path};" for kind, path in temp.items()),
            server,
            "}",
        ]
    )


@dataclass
class Client:
    """One client machine: its own source address, its own cookies, TLS to the proxy."""

    address: str
    port: int
    cookies: dict[str, str] = field(default_factory=dict)
    csrf_token: str = ""

    def request(
        self, method: str, path: str, *, form: dict[str, str] | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], str]:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        connection = http.client.HTTPSConnection(
            "127.0.0.1", self.port, timeout=30, source_address=(self.address, 0), context=context
        )
        sent = dict(headers or {})
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        body = None
        if form is not None:
            body = urlencode(form)
            origin = f"https://127.0.0.1:{self.port}"
            sent.update({"Content-Type": "application/x-www-form-urlencoded", "Origin": origin})
        try:
            connection.request(method, path, body=body, headers=sent)
            response = connection.getresponse()
            for cookie in response.headers.get_all("Set-Cookie") or []:
                name, _, rest = cookie.partition("=")
                self.cookies[name] = rest.split(";", 1)[0]
            return response.status, dict(response.headers), response.read().decode(errors="replace")
        finally:
            connection.close()

    def log_in(self, username: str, password: str, *, forged: str | None = None) -> int:
        """The admin's login form as a browser posts it (CSRF token and all); the answer's status."""
        if "csrftoken" not in self.cookies:
            status, _, page = self.request("GET", "/admin/login/")
            assert status == 200, page[:500]
            self.csrf_token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
        form = {"csrfmiddlewaretoken": self.csrf_token, "username": username, "password": password, "next": "/admin/"}
        headers = {"X-Forwarded-For": forged} if forged else {}
        return self.request("POST", "/admin/login/", form=form, headers=headers)[0]


def cache_url() -> str:
    """Redis as the guide sets CACHE_URL, or "" (the database cache) where no Redis answers."""
    import redis

    base = os.environ.get("CELERY_BROKER_URL") or "redis://127.0.0.1:6379/14"
    url = re.sub(r"/\d*$", "", base.rstrip("/")) + f"/{PROXY_CACHE_DB}"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=2).flushdb()
    except Exception:
        return ""
    return url


def health_answers_by_worker(metrics: Path) -> Counter[str]:
    """`/health` answers each gunicorn worker gave, from its own multiprocess metrics file."""
    answers: Counter[str] = Counter()
    for path in metrics.glob("counter_*.db"):
        with tempfile.TemporaryDirectory() as alone:
            shutil.copy(path, alone)
            registry = CollectorRegistry()
            MultiProcessCollector(registry, path=alone)
            for metric in registry.collect():
                for sample in metric.samples:
                    if (
                        sample.name.startswith("django_http_responses_total_by_status_view_method")
                        and sample.labels.get("view") == "health"
                        and sample.value > 0
                    ):
                        answers[path.stem] += int(sample.value)
    return answers


@dataclass
class Proxied:
    port: int
    web_port: int
    logs: Path
    metrics: Path

    def client(self, address: str) -> Client:
        return Client(address, self.port)

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")


@pytest.fixture(scope="module")
def static_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The release step's collected static files (the admin's pages link them), once for the module."""
    root = tmp_path_factory.mktemp("static")
    environment = {
        **os.environ,
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": "proxy-test-" + uuid.uuid4().hex * 2,
        "DJANGO_STATIC_ROOT": str(root),
    }
    collected = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
    )
    assert collected.returncode == 0, collected.stderr[-3000:]
    return root


@pytest.fixture
def proxied(tmp_path: Path, static_root: Path) -> Iterator[Proxied]:
    nginx = needed_tool(NGINX, "apt-get install nginx")
    openssl = needed_tool("openssl", "apt-get install openssl")
    # Hashed as production hashes it: the child process loads production settings, which know no test hasher.
    hasher = PBKDF2PasswordHasher()
    get_user_model().objects.create(
        username="target", password=hasher.encode(PASSWORD, hasher.salt()), is_staff=True, is_superuser=True
    )
    certificate, key = tmp_path / "proxy.crt", tmp_path / "proxy.key"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-keyout", str(key), "-out", str(certificate)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    port, web_port = devservers.free_port(), devservers.free_port()
    metrics = tmp_path / "metrics"
    metrics.mkdir()
    env = childprocess.environment(
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY="proxy-test-" + uuid.uuid4().hex * 2,
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        DJANGO_TRUST_PROXY_HEADERS="true",
        # The test's origin carries a port, which nginx's $host (as the guide forwards it) drops.
        DJANGO_CSRF_TRUSTED_ORIGINS=f"https://127.0.0.1:{port}",
        DJANGO_STATIC_ROOT=str(static_root),
        PROMETHEUS_MULTIPROC_DIR=str(metrics),
        CACHE_URL=cache_url(),
        API_THROTTLE_HEALTH=f"{HEALTH_LIMIT}/minute",
        PORT=str(web_port),
    )
    for name in ("NATS_URL", "CELERY_BROKER_URL"):
        env.pop(name, None)
    prefix = tmp_path / "nginx"
    prefix.mkdir()
    (prefix / "nginx.conf").write_text(
        nginx_config(prefix, listen=port, upstream=web_port, certificate=certificate, key=key)
    )
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for name, command in [
            ("web", ["bash", "-c", "exec " + procfile()["web"]]),
            ("nginx", [nginx, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-e", "stderr"]),
        ]:
            with (tmp_path / f"{name}.log").open("ab") as log:
                processes.append(
                    subprocess.Popen(
                        command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
                    )
                )
        wait_for(lambda: devservers.port_open(web_port), 60, "gunicorn did not listen")
        wait_for(lambda: devservers.port_open(port), 30, "nginx did not listen")
        yield Proxied(port=port, web_port=web_port, logs=tmp_path, metrics=metrics)
    finally:
        for process in processes:
            stop(process)


def forged(n: int) -> str:
    """A different X-Forwarded-For each time: random addresses, sometimes the victim's, sometimes a chain."""
    choices = [
        f"10.{n}.{secrets.randbelow(250)}.{secrets.randbelow(250)}",
        "127.0.0.3",
        f"127.0.0.3, 10.0.0.{n}",
        f"198.51.100.{n}, 127.0.0.3",
    ]
    return choices[n % len(choices)]


def test_through_the_guides_nginx_forged_addresses_bypass_nothing_and_lock_no_one_else_out(proxied: Proxied) -> None:
    attacker, victim, bystander = (proxied.client(f"127.0.0.{n}") for n in (2, 3, 4))
    limit = settings.AXES_FAILURE_LIMIT

    wrong = [attacker.log_in("target", f"wrong-{n}", forged=forged(n)) for n in range(30)]
    right = attacker.log_in("target", PASSWORD, forged="127.0.0.3")
    victims = victim.log_in("target", PASSWORD)
    bystanders = bystander.log_in("target", "wrong-once")

    assert 429 not in wrong[: limit - 1], wrong
    assert wrong[limit:] == [429] * (30 - limit), wrong  # 0 bypasses
    assert right == 429
    assert victims == 302  # 0 foreign lockouts: logged in
    assert bystanders == 200  # a wrong password, answered as such, not locked
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"127.0.0.2", "127.0.0.4"}

    # gunicorn's access log names the client as the lockout does, not the proxy. A worker writes the
    # line after it has sent the answer, so the last ones may still be on their way.
    def logged_clients() -> set[str]:
        pattern = r'^(\S+) - \S+ \[[^]]+\] "POST /admin/login/ '
        return set(re.findall(pattern, proxied.log("web"), flags=re.MULTILINE))

    wait_for(lambda: len(logged_clients()) >= 3, 30, "gunicorn did not log the three clients' logins")
    assert logged_clients() == {"127.0.0.2", "127.0.0.3", "127.0.0.4"}


def test_through_the_guides_nginx_the_health_throttle_counts_a_client_once_across_workers(proxied: Proxied) -> None:
    caller, monitor = proxied.client("127.0.0.5"), proxied.client("127.0.0.6")

    answers: list[int] = []
    # Until at least two gunicorn workers have answered: a count per worker would let each its own limit.
    while len(answers) < 200 and (
        len(answers) < 4 * HEALTH_LIMIT or len(health_answers_by_worker(proxied.metrics)) < 2
    ):
        answers.append(caller.request("GET", "/health", headers={"X-Forwarded-For": forged(len(answers))})[0])
    monitors = [monitor.request("GET", "/health")[0] for _ in range(3)]

    assert len(health_answers_by_worker(proxied.metrics)) >= 2
    assert answers[:HEALTH_LIMIT] == [200] * HEALTH_LIMIT
    assert answers[HEALTH_LIMIT:] == [429] * (len(answers) - HEALTH_LIMIT)
    assert monitors == [200] * 3


def test_through_the_guides_nginx_the_request_is_https_and_only_the_proxy_says_so(proxied: Proxied) -> None:
    client = proxied.client("127.0.0.7")
    through_proxy = client.request("GET", "/admin/login/")[0]
    # nginx replaces what the client claims with the scheme it really spoke.
    claiming_http = client.request("GET", "/admin/login/", headers={"X-Forwarded-Proto": "http"})[0]
    # Straight to gunicorn (the internal port) with no proxy's word: plain HTTP, sent to HTTPS.
    direct = http.client.HTTPConnection("127.0.0.1", proxied.web_port, timeout=30)
    try:
        direct.request("GET", "/admin/login/", headers={"Host": "127.0.0.1"})
        redirected = direct.getresponse()
        location = redirected.headers.get("Location", "")
    finally:
        direct.close()

    assert (through_proxy, claiming_http) == (200, 200)
    assert (redirected.status, location) == (301, "https://127.0.0.1/admin/login/")
