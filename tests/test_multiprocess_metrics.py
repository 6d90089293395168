"""The multiprocess metrics directory shared by gunicorn and Celery: only dead processes' files go."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from statehub.multiprocess_metrics import clear_dead_process_files


def a_finished_process_pid() -> int:
    process = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(process.stdout)


def test_clearing_removes_the_files_of_stopped_processes_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    dead = a_finished_process_pid()
    live = os.getpid()
    for name in (f"counter_{dead}.db", f"histogram_{dead}.db", f"counter_{live}.db", f"gauge_livesum_{live}.db"):
        (tmp_path / name).write_bytes(b"\0")

    removed = clear_dead_process_files()

    assert sorted(path.name for path in removed) == [f"counter_{dead}.db", f"histogram_{dead}.db"]
    assert sorted(path.name for path in tmp_path.iterdir()) == [f"counter_{live}.db", f"gauge_livesum_{live}.db"]


def test_clearing_does_nothing_without_a_multiprocess_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)

    assert clear_dead_process_files() == []
