"""Where the hub may read repositories: `STATEHUB_REPO_ROOTS` and a relative `workplan_dir` (DESIGN §8).

A registered repo names a path on the hub's host, so registering one must not open the host to
whoever may add repos. These rules are checked when a repo is registered or its paths change, and
again every time a checkout is read (settings change, and older rows predate the rule).
"""

import os
from pathlib import Path, PurePosixPath

from django.conf import settings


def allowed_roots() -> list[str]:
    """The real paths of the configured repo roots."""
    return [os.path.realpath(root) for root in settings.STATEHUB_REPO_ROOTS if root]


def is_inside(path: str, base: str) -> bool:
    """Whether the real path `path` is `base` or below it (both already resolved)."""
    return path == base or path.startswith(base.rstrip(os.sep) + os.sep)


def local_path_problem(local_path: str) -> str | None:
    """Why a repo's `local_path` is not allowed, or None for a directory strictly inside an allowed root.

    A root itself is refused: a checkout there would hold every other checkout, and its
    `workplan_dir` could name a folder of any of them. A path that does not exist yet is
    accepted (the checkout may be cloned after registering); reading it is refused until it is
    a directory.
    """
    if not local_path:
        return None
    if not os.path.isabs(local_path):
        return "local_path must be an absolute path."
    if "\x00" in local_path:
        return "local_path must not contain a NUL character."
    real = os.path.realpath(local_path)
    roots = allowed_roots()
    allowed = ", ".join(roots) if roots else "none configured"
    if real in roots:
        return f"local_path must be a checkout inside one of STATEHUB_REPO_ROOTS ({allowed}), not a root itself."
    if not any(is_inside(real, root) for root in roots):
        return f"local_path must be inside one of STATEHUB_REPO_ROOTS ({allowed})."
    if os.path.exists(real) and not os.path.isdir(real):
        return "local_path must be a directory (the repo's checkout)."
    return None


def workplan_dir_problem(workplan_dir: str) -> str | None:
    """Why a repo's `workplan_dir` is not allowed (absolute, or climbing out with `..`), or None."""
    if not workplan_dir or "\x00" in workplan_dir:
        return "workplan_dir must be a relative directory path, such as 'workplans'."
    if workplan_dir.startswith(("/", "\\")) or Path(workplan_dir).is_absolute():
        return "workplan_dir must be relative to the checkout, not an absolute path."
    if ".." in PurePosixPath(workplan_dir.replace("\\", "/")).parts:
        return "workplan_dir must not contain '..'."
    return None
