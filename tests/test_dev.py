"""The developer entry point `python3 -m statehub.dev`: serve, manage, and the README's snippets run as printed.

These start real processes on a fresh-machine environment (no DATABASE_URL, NATS_URL or
CELERY_BROKER_URL), with `STATEHUB_DEV_VAR` pointing at a temporary directory so a developer's
`var/` is never touched.
"""

import os
import re
import shlex
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from statehub import devservers
from tests.serverdirs import server_directory

ROOT = Path(__file__).resolve().parent.parent
DEV_COMMAND = "python3 -m statehub.dev manage"
# Documents whose command snippets a developer runs on their own machine.
DEVELOPER_DOCS = [ROOT / "README.md", ROOT / "docs" / "delegation-protocol.md"]
# What each long-running command is run as in the test: the same command, in a form that ends.
NON_BLOCKING = {
    "tail_events": ["--help"],
    "mcp_server": ["--help"],
}


def fresh_machine_environment(var: Path, **values: str) -> dict[str, str]:
    """This environment as a new contributor has it: no service URLs, no secret, dev state in `var`."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "NATS_URL", "CELERY_BROKER_URL", "DJANGO_SECRET_KEY", "DJANGO_DEBUG"}
    }
    env.update(STATEHUB_DEV_VAR=str(var), DEV_NATS_PORT=str(devservers.free_port()), **values)
    return env


def wait_for_port(port: int, process: subprocess.Popen[str], seconds: float, output: Path) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"exited with {process.returncode} before listening on {port}:\n{output.read_text()}")
        if devservers.port_open(port):
            return
        time.sleep(0.2)
    raise AssertionError(f"nothing listened on {port} within {seconds} s:\n{output.read_text()}")


def wait_until_closed(port: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not devservers.port_open(port):
            return True
        time.sleep(0.2)
    return False


def documented_manage_lines() -> list[tuple[str, str]]:
    """Every `python3 -m statehub.dev manage …` line inside a code block of the developer docs."""
    lines = []
    for document in DEVELOPER_DOCS:
        in_block = False
        for line in document.read_text().splitlines():
            if line.lstrip().startswith("```"):
                in_block = not in_block
                continue
            if in_block and DEV_COMMAND in line:
                command = line[line.index(DEV_COMMAND) :].split(" #", 1)[0].strip()
                lines.append((document.name, command))
    return lines


def runnable_form(command: str) -> list[str]:
    """The documented command's arguments, made to end where the real command would wait for Ctrl-C."""
    arguments = shlex.split(command)[len(DEV_COMMAND.split()) :]
    name, rest = arguments[0], arguments[1:]
    if name in NON_BLOCKING:
        return [name, *NON_BLOCKING[name]]
    if name == "relay_events" and "--once" not in rest:
        return [name, "--once", *rest]
    return arguments


@pytest.fixture
def dev_environment() -> Iterator[dict[str, str]]:
    """A fresh machine's environment: each `manage` starts the servers it needs and stops them when it exits."""
    with server_directory("statehub-test-dev-") as directory:
        yield fresh_machine_environment(directory / "var")


@pytest.fixture(scope="session")
def developer_machine() -> Iterator[dict[str, str]]:
    """One developer's machine, kept between commands as `var/` is: the first command creates the
    database cluster, later ones start it again (per pytest-xdist worker, so never two at once)."""
    with server_directory("statehub-test-developer-") as directory:
        yield fresh_machine_environment(directory / "var")


def test_the_developer_docs_show_manage_commands() -> None:
    commands = {shlex.split(command)[4] for _, command in documented_manage_lines()}

    assert {"tail_events", "relay_events", "consistency_check", "cleanup_stale_tasks"} <= commands


def distinct_runs() -> list[tuple[str, str]]:
    """The documented lines, one per distinct run: lines whose runnable forms are the same run once."""
    first: dict[tuple[str, ...], tuple[str, str]] = {}
    for document, command in documented_manage_lines():
        first.setdefault(tuple(runnable_form(command)), (document, command))
    return list(first.values())


@pytest.mark.parametrize(("document", "command"), distinct_runs())
def test_each_documented_manage_line_runs_as_printed(
    document: str, command: str, developer_machine: dict[str, str]
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "statehub.dev", "manage", *runnable_form(command)],
        cwd=ROOT,
        env=developer_machine,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, f"{document}: {command}\n{result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.stderr


def test_manage_without_a_command_prints_its_usage(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "statehub.dev", "manage"],
        cwd=ROOT,
        env=fresh_machine_environment(tmp_path / "var"),
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert result.returncode == 2
    assert "usage: python3 -m statehub.dev manage COMMAND" in result.stderr


def test_a_command_without_a_broker_prints_no_kombu_or_celery_lines(dev_environment: dict[str, str]) -> None:
    # Registering a repo records an event, which with no broker is published in-process after commit.
    register = "from hub import services; services.repo_register(data={'slug': 'quiet', 'name': 'Quiet'})"

    result = subprocess.run(
        [sys.executable, "-m", "statehub.dev", "manage", "shell", "-c", register],
        cwd=ROOT,
        env=dev_environment,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr
    noisy = [line for line in result.stderr.splitlines() if re.search(r"\b(kombu|celery)\b", line)]
    assert noisy == []
    assert "Warning" not in result.stderr


def test_serve_prints_a_working_token_and_sigterm_stops_every_server(
    tmp_path: Path, dev_environment: dict[str, str]
) -> None:
    port = devservers.free_port()
    env = dev_environment
    nats_port = int(env["DEV_NATS_PORT"])
    output = tmp_path / "serve.log"
    with output.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "statehub.dev", "serve", f"127.0.0.1:{port}"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
    try:
        wait_for_port(port, process, seconds=120, output=output)
        exports = re.findall(r"^\s*export STATEHUB_TOKEN=(\S+)$", output.read_text(), flags=re.MULTILINE)
        assert len(exports) == 1, output.read_text()
        token = exports[0]
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/workstreams/", headers={"Authorization": f"Token {token}"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback URL built here
            answered = response.status

        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    assert answered == 200
    assert wait_until_closed(port, seconds=10), "runserver still answers after SIGTERM"
    assert wait_until_closed(nats_port, seconds=10), "nats-server still answers after SIGTERM"
    assert not devservers.postgres_running(Path(env["STATEHUB_DEV_VAR"]) / "postgres")
