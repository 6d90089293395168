"""Helpers for tests of the reconciliation: copies of the fixture repos, registered as repos."""

import contextlib
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

from hub.models import Repo
from tests.factories import RepoFactory

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "workplans"


def checkout(tmp_path: Path, name: str) -> Path:
    """A private copy of fixture repo `name`, so a test may change its files."""
    target = tmp_path / name
    shutil.copytree(FIXTURES / name, target)
    return target


def register(tmp_path: Path, name: str, *, slug: str = "fixture-repo") -> Repo:
    """A registered repo whose checkout is a copy of fixture repo `name`."""
    RepoFactory(slug=slug, local_path=str(checkout(tmp_path, name)))
    return Repo.objects.get(slug=slug)


def switch_checkout(repo: Repo, tmp_path: Path, name: str) -> None:
    """Replace the repo's workplan files with those of fixture repo `name` (the repo moved on)."""
    workplans = Path(repo.local_path) / repo.workplan_dir
    shutil.rmtree(workplans)
    shutil.copytree(FIXTURES / name / "workplans", workplans)


_recording: list[list[str]] = []


def _audit(event: str, args: tuple) -> None:
    if event == "open" and _recording and isinstance(args[0], str | bytes):
        _recording[-1].append(os.fsdecode(args[0]))


@contextlib.contextmanager
def opened_files() -> Iterator[list[str]]:
    """The paths this process opens inside the block (a Python audit hook: `open()` and `os.open()` alike)."""
    if not getattr(_audit, "installed", False):
        sys.addaudithook(_audit)  # hooks cannot be removed; this one records only inside the block
        _audit.installed = True  # type: ignore[attr-defined]
    paths: list[str] = []
    _recording.append(paths)
    try:
        yield paths
    finally:
        _recording.pop()
