"""Two-command developer entry point: `python3 -m statehub.dev serve` and `python3 -m statehub.dev test`.

Needs only Python 3.11+ with pip. It creates `.venv/` (reinstalling when requirements change),
then runs the rest inside it. Without DATABASE_URL / NATS_URL it starts PostgreSQL and
nats-server from their wheels, keeping their data in `var/` (git-ignored), so a second run
reuses the data. This module uses only the standard library until it is inside the venv.
"""

import hashlib
import os
import secrets
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


def _in_venv() -> bool:
    return Path(sys.prefix).resolve() == VENV.resolve()


def _manage(*args: str, env: dict[str, str]) -> None:
    subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], check=True, env=env, cwd=ROOT)


def serve(args: list[str]) -> int:
    """Start local servers as needed, migrate, ensure a dev admin, and serve on 127.0.0.1:8000."""
    from statehub import devservers

    # Stop the local servers on SIGTERM too (atexit handlers only run on a normal exit).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    env = dict(os.environ)
    env.setdefault("DJANGO_DEBUG", "true")
    VAR.mkdir(exist_ok=True)
    if not env.get("DATABASE_URL"):
        env["DATABASE_URL"] = devservers.start_postgres(VAR / "postgres")
        print(f"PostgreSQL (embedded, data in var/postgres): {env['DATABASE_URL']}", flush=True)
    if not env.get("NATS_URL"):
        env["NATS_URL"], _ = devservers.start_nats(VAR / "nats", port=int(env.get("DEV_NATS_PORT", "4223")))
        print(f"NATS JetStream (from the wheel, data in var/nats): {env['NATS_URL']}", flush=True)
    _manage("migrate", "--noinput", env=env)
    credentials = VAR / "dev-admin.txt"
    if credentials.exists():
        username, password = credentials.read_text().split()
    else:
        username, password = "admin", secrets.token_urlsafe(12)
    admin = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "ensure_dev_admin", "--username", username, "--password", password],
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
        f"  API token: {token}\n"
        f"  try:  curl -H 'Authorization: Token {token}' http://{address}/workstreams/\n"
        f"  watch events:  DJANGO_DEBUG=true NATS_URL={env['NATS_URL']} .venv/bin/python manage.py tail_events\n",
        flush=True,
    )
    try:
        return subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), "runserver", address], env=env, cwd=ROOT
        ).returncode
    except KeyboardInterrupt:
        return 0


def test(args: list[str]) -> int:
    """Run the whole test suite (servers come from the environment or are started by the session)."""
    env = dict(os.environ)
    # Tests run with production-like settings (DEBUG off); they need some secret, never a real one.
    env.setdefault("DJANGO_SECRET_KEY", "test-only-" + "x" * 50)
    return subprocess.run([sys.executable, "-m", "pytest", *args], cwd=ROOT, env=env).returncode


COMMANDS = {"serve": serve, "test": test}


def main() -> int:
    if len(sys.argv) == 2 and sys.argv[1] == "--install-only":
        ensure_venv()
        return 0
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        print(
            "usage: python3 -m statehub.dev {serve [ADDR:PORT] | test [PYTEST ARGS] | --install-only}", file=sys.stderr
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
