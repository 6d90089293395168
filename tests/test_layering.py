"""The project's layering: the shared API plumbing and error base know no app; `events` knows nothing of `hub`."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at the top or inside a function."""
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module)
        elif isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
    return modules


def imports_of(package: str, *, forbidden: tuple[str, ...]) -> dict[str, list[str]]:
    found = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        bad = sorted(m for m in imported_modules(path) if m.split(".")[0] in forbidden)
        if bad:
            found[str(path.relative_to(ROOT))] = bad
    return found


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [("statehub/api", ("hub", "events")), ("events", ("hub",))],
)
def test_a_lower_layer_imports_no_higher_one(package: str, forbidden: tuple[str, ...]) -> None:
    assert imports_of(package, forbidden=forbidden) == {}


def test_the_error_base_imports_no_app() -> None:
    assert not {m for m in imported_modules(ROOT / "statehub" / "errors.py") if m.split(".")[0] in ("hub", "events")}
