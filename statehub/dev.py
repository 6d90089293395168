"""Developer entry point: `python3 -m statehub.dev serve`, `... test`, `... lint` and `... manage COMMAND [ARGS]`.

Needs only Python 3.11+ with pip. It creates `.venv/` (reinstalling when requirements change),
then runs the rest inside it. Without DATABASE_URL / NATS_URL it starts PostgreSQL and
nats-server from their wheels, keeping their data in `var/` (git-ignored), so a second run
reuses the data; `manage` runs a management command against those same servers. `test` and
`--install-only` also install the official AsyncAPI parser (npm) that one test runs, when npm is
there. This module uses only the standard library until it is inside the venv.
"""

import contextlib
import hashlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
VAR = ROOT / "var"
REQUIREMENTS = ROOT / "requirements" / "dev.txt"
VENV_PYTHON = VENV / "bin" / "python"
# The npm packages of tests/events/test_asyncapi.py: the official AsyncAPI parser, pinned by its lock file.
NODE_PACKAGES = ROOT / "tests" / "asyncapi"


def _requirements_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted((ROOT / "requirements").glob("*.txt")):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def ensure_venv() -> None:
    """Create the virtual environment and install the pinned requirements when they changed."""
    stamp = VENV / ".requirements.sha256"
    if not VENV_PYTHON.exists():
        print(f"Creating a virtual environment in {VENV} ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    wanted = _requirements_digest()
    if not stamp.exists() or stamp.read_text().strip() != wanted:
        print("Installing requirements/dev.txt ...", flush=True)
        subprocess.run(
            [str(VENV_PYTHON), "-m", "pip", "install", "--disable-pip-version-check", "-q", "-r", str(REQUIREMENTS)],
            check=True,
        )
        stamp.write_text(wanted)


def ensure_node_packages() -> None:
    """Install the AsyncAPI test's npm packages when they are missing or older than their lock file.

    Best effort: a machine with only Python still runs the suite, and that test skips, saying why.
    """
    lock = NODE_PACKAGES / "package-lock.json"
    # npm writes this copy of the lock file last, when an install completes.
    installed = NODE_PACKAGES / "node_modules" / ".package-lock.json"
    if not lock.exists() or (installed.exists() and installed.stat().st_mtime >= lock.stat().st_mtime):
        return
    npm = shutil.which("npm")
    if npm is None:
        print(
            f"npm is not on PATH: cannot install {NODE_PACKAGES.relative_to(ROOT)}'s packages (the official "
            "AsyncAPI parser); without them tests/events/test_asyncapi.py skips its parser check (under CI=true "
            "it fails).",
            flush=True,
        )
        return
    print(f"Installing {NODE_PACKAGES.relative_to(ROOT)}/package-lock.json (npm ci) ...", flush=True)
    # The parser needs no install script; the one in its tree (@scarf/scarf) only sends usage analytics.
    command = [npm, "ci", "--prefix", str(NODE_PACKAGES), "--no-audit", "--no-fund", "--ignore-scripts"]
    if subprocess.run(command, cwd=ROOT, check=False).returncode != 0:
        print(
            "npm ci failed: tests/events/test_asyncapi.py skips its parser check (under CI=true it fails).",
            flush=True,
        )


def _in_venv() -> bool:
    return Path(sys.prefix).resolve() == VENV.resolve()


def _manage(*args: str, env: dict[str, str]) -> None:
    subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], check=True, env=env, cwd=ROOT)


def _var_dir() -> Path:
    # Tests point this elsewhere so they never touch a developer's var/.
    return Path(os.environ.get("STATEHUB_DEV_VAR", VAR))


def local_environment(*, quiet: bool = False) -> dict[str, str]:
    """This environment with debug settings and the servers `serve` uses, started if they are not running.

    A server this process starts is stopped when it exits; one that another `serve` or `manage`
    started is only reused.
    """
    from statehub import devservers

    say = (lambda _message: None) if quiet else (lambda message: print(message, file=sys.stderr, flush=True))
    env = dict(os.environ)
    env.setdefault("DJANGO_DEBUG", "true")
    var = _var_dir()
    var.mkdir(parents=True, exist_ok=True)
    if not env.get("DATABASE_URL"):
        reused = devservers.postgres_running(var / "postgres")
        env["DATABASE_URL"] = devservers.start_postgres(var / "postgres")
        say(f"PostgreSQL ({'running' if reused else 'embedded'}, data in {var / 'postgres'}): {env['DATABASE_URL']}")
    if not env.get("NATS_URL"):
        port = int(env.get("DEV_NATS_PORT", "4223"))
        if devservers.port_open(port):
            env["NATS_URL"] = f"nats://127.0.0.1:{port}"
            say(f"NATS JetStream (running): {env['NATS_URL']}")
        else:
            env["NATS_URL"], _ = devservers.start_nats(var / "nats", port=port)
            say(f"NATS JetStream (from the wheel, data in {var / 'nats'}): {env['NATS_URL']}")
    return env


def _run_in_foreground(command: list[str], env: dict[str, str]) -> int:
    """Run a child in its own process group and pass SIGTERM and Ctrl-C on to all of it.

    runserver's autoreloader runs the server in a grandchild; signalling only the child would
    leave that one answering after the database and NATS are gone.
    """
    process = subprocess.Popen(command, env=env, cwd=ROOT, start_new_session=True)
    stopped_by_signal = False

    def forward(signum: int, _frame: object) -> None:
        nonlocal stopped_by_signal
        stopped_by_signal = True
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM if signum == signal.SIGTERM else signal.SIGINT)

    previous = {number: signal.signal(number, forward) for number in (signal.SIGTERM, signal.SIGINT)}
    try:
        try:
            returncode = process.wait()
        finally:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
            # The group may still hold the reloader's server process; never leave it behind.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGTERM)
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    return 0 if stopped_by_signal else returncode


def _exit_on_sigterm() -> None:
    # atexit handlers, which stop the servers this process started, run only on a normal exit.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))


def serve(args: list[str]) -> int:
    """Start local servers as needed, migrate, ensure a dev admin, and serve on 127.0.0.1:8000."""
    _exit_on_sigterm()
    env = local_environment()
    _manage("migrate", "--noinput", env=env)
    credentials = _var_dir() / "dev-admin.txt"
    if credentials.exists():
        username, password = credentials.read_text().split()
    else:
        username, password = "admin", secrets.token_urlsafe(12)
    admin = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "ensure_dev_admin", "--username", username, f"--password={password}"],
        check=True,
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    token = next(line.split("=", 1)[1] for line in admin.stdout.splitlines() if line.startswith("token="))
    credentials.write_text(f"{username} {password}\n")
    credentials.chmod(0o600)
    address = args[0] if args else "127.0.0.1:8000"
    print(
        f"\nState Hub is starting on http://{address}/  (admin: http://{address}/admin/)\n"
        f"  login: {username} / {password}   (kept in var/dev-admin.txt)\n"
        f"  API token `dev` of {username} (a new one each start; expires in 7 days), for the README's examples:\n"
        f"    export STATEHUB_TOKEN={token}\n"
        f'  try:  curl -H "Authorization: Token $STATEHUB_TOKEN" http://{address}/workstreams/\n'
        f"  watch events:  python3 -m statehub.dev manage tail_events\n",
        flush=True,
    )
    return _run_in_foreground([sys.executable, str(ROOT / "manage.py"), "runserver", address], env)


def manage(args: list[str]) -> int:
    """Run `manage.py ARGS` against the servers `serve` uses (debug settings), starting them if needed."""
    if not args:
        print("usage: python3 -m statehub.dev manage COMMAND [ARGS]", file=sys.stderr)
        return 2
    _exit_on_sigterm()
    env = local_environment()
    migrated = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "migrate", "--noinput"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if migrated.returncode != 0:
        print(migrated.stdout + migrated.stderr, file=sys.stderr)
        return migrated.returncode
    return _run_in_foreground([sys.executable, str(ROOT / "manage.py"), *args], env)


# pytest-xdist workers for `test`: twice the cores, since a test spends about half its time waiting on a
# child process, a server or a timeout (on 2 cores with one kept busy: 2 workers 243 s, 3 221 s, 4 202 s,
# 6 212 s). Each has its own database (and on a fresh machine its own PostgreSQL and nats-server); tests
# that share one server of the machine form an xdist group (root conftest.py).
TEST_WORKERS = str(min(8, 2 * (os.cpu_count() or 1)))


def _parallel_options(args: list[str]) -> list[str]:
    """pytest-xdist's options for `test`, but those the arguments choose themselves (or none without xdist)."""
    if any(arg in ("no:xdist", "-pno:xdist") for arg in args):
        return []
    options = []
    if not any(arg in ("-n", "--numprocesses") or arg.startswith(("-n", "--numprocesses=")) for arg in args):
        options += ["-n", TEST_WORKERS]
    if not any(arg == "--dist" or arg.startswith("--dist=") for arg in args):
        options += ["--dist", "loadgroup"]
    return options


def test(args: list[str]) -> int:
    """Run the whole test suite in parallel (servers come from the environment or are started by the session).

    `-n 0` runs it in one process; `-n N` picks the number of workers.
    """
    env = dict(os.environ)
    # The test settings layer (fast password hashing, a placeholder secret key), whatever the shell exports.
    env["DJANGO_SETTINGS_MODULE"] = "statehub.settings_test"
    # Each test worker and each process a test starts would otherwise compile the project's modules
    # (and pytest rewrite every test module) from source again: about 3 s of CPU per worker. The
    # bytecode goes to the git-ignored __pycache__ directories.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    ensure_node_packages()
    command = [sys.executable, "-m", "pytest", *_parallel_options(args), *args]
    return subprocess.run(command, cwd=ROOT, env=env).returncode


def lint(args: list[str]) -> int:
    """Run what CI checks before the tests: ruff's lint and format check, and mypy (no environment needed)."""
    checks = [
        ["ruff", "check", "."],
        ["ruff", "format", "--check", "."],
        ["mypy", "."],
    ]
    if args:
        print("usage: python3 -m statehub.dev lint", file=sys.stderr)
        return 2
    failed = []
    for check in checks:
        print(f"== {' '.join(check)}", flush=True)
        if subprocess.run([sys.executable, "-m", *check], cwd=ROOT).returncode != 0:
            failed.append(" ".join(check))
    if failed:
        print(f"Failed: {'; '.join(failed)}", file=sys.stderr)
        return 1
    return 0


COMMANDS = {"serve": serve, "manage": manage, "test": test, "lint": lint}


def main() -> int:
    if len(sys.argv) == 2 and sys.argv[1] == "--install-only":
        ensure_venv()
        ensure_node_packages()
        return 0
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        print(
            "usage: python3 -m statehub.dev"
            " {serve [ADDR:PORT] | manage COMMAND [ARGS] | test [PYTEST ARGS] | lint | --install-only}",
            file=sys.stderr,
        )
        return 2
    if not _in_venv():
        ensure_venv()
        os.chdir(ROOT)
        # Replace this process, so signals (Ctrl-C, SIGTERM) reach the real command directly.
        os.execv(VENV_PYTHON, [str(VENV_PYTHON), "-m", "statehub.dev", *sys.argv[1:]])  # noqa: S606
    return COMMANDS[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
