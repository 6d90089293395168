"""Fixtures for the hub's tests: the directories repos may be read from."""

from pathlib import Path
from typing import Any

import pytest

FIXTURE_REPOS = Path(__file__).resolve().parents[1] / "fixtures" / "workplans"


@pytest.fixture(autouse=True)
def _repo_roots(settings: Any, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Repos may be read from the test session's temporary directories and the fixture repos (DESIGN §8)."""
    settings.STATEHUB_REPO_ROOTS = [str(tmp_path_factory.getbasetemp()), str(FIXTURE_REPOS)]
