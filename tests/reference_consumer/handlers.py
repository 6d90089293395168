"""Handlers the tests plug into the consumer's command line (`--handler tests.reference_consumer.handlers:...`)."""

import json
import os
from pathlib import Path
from typing import Any


def fail_once(envelope: dict[str, Any], headers: dict[str, str]) -> None:
    """Fail the first time each event comes (noting it in `$RC_TEST_FAILURES`), print it the second time."""
    failures = Path(os.environ["RC_TEST_FAILURES"])
    seen = failures.read_text().split() if failures.exists() else []
    if envelope["id"] not in seen:
        with failures.open("a") as file:
            file.write(envelope["id"] + "\n")
        raise RuntimeError(f"failing {envelope['id']} once, as the test asks")
    print(json.dumps(envelope), flush=True)


def print_with_headers(envelope: dict[str, Any], headers: dict[str, str]) -> None:
    """Print the envelope with the headers the handler was given, under `_headers`."""
    print(json.dumps({**envelope, "_headers": headers}), flush=True)


def fail_repo_registrations(envelope: dict[str, Any], headers: dict[str, str]) -> None:
    """Fail on every `repo.registered` event, print the others."""
    if envelope["type"] == "org.statehub.repo.registered":
        raise RuntimeError("this handler cannot take repo registrations")
    print(json.dumps(envelope), flush=True)
