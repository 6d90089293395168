"""Reading a repo's workplan files safely: inside the checkout, regular files only, bounded in size.

Repositories are input written by other people, not trusted code (DESIGN §8). Every file is
listed without following symlinks; one whose real path leaves the checkout, or that is not a
regular file, is reported and never opened. So is a file with more than one hard link: a hard
link has no real path to check, and its other name may be any file of the host on the same
filesystem, so the hub cannot tell that it belongs to the checkout. A file is opened by its real
path with `O_NOFOLLOW` and checked again on the open descriptor (regular, one link, not over
`WORKPLAN_MAX_BYTES`), so a symlink or a link swapped in after the check is refused too.
Parsing (`hub.workplans`) refuses YAML anchors and aliases and bounds the YAML per file.
Messages never name anything outside the checkout.

A file is not even opened when its stamp (device, inode, size, mtime and ctime in ns, as listed
without following symlinks) is the one stored with the hash it had when last read and the hash
is still the workstream's `source_hash`: the same checks hold on the listed metadata (a regular
file, one link, not over the limit, named in the checkout's own resolved folder). A stamp is
stored only for a file whose mtime and ctime were at least `STAMP_SETTLE_NS` older than the
moment it was read, as git does against "racy" files: a file rewritten within the timestamp's
granularity, with the same size, would keep its stamp, so a file that young is hashed again
next time instead. ctime cannot be set back from user space (`os.utime` moves it to now), so a
content change with size and mtime restored is still seen. What a stamp cannot see: a change
that leaves mtime and ctime alone (a filesystem mounted without them, a write through a raw
block device, or a clock set back by more than the settling time); set
`WORKPLAN_SKIP_UNCHANGED_BY_STAT=false` where checkouts live on such a filesystem.
"""

import os
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from django.conf import settings

from hub.checkouts import is_inside, local_path_problem, workplan_dir_problem
from hub.models import Repo
from hub.workplans import WorkplanError, WorkplanSpec, content_hash, parse_workplan

# How much older than the read a file's mtime and ctime must be for its stamp to be kept (2 s: FAT's granularity).
STAMP_SETTLE_NS = 2_000_000_000

# Open flags for a workplan file: never through a final symlink, never blocking on a FIFO.
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)


class CheckoutRefused(Exception):
    """The repo's workplan directory cannot be read (no checkout, outside the allowed roots, missing)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class FileRefused(Exception):
    """One workplan file that is not read: out of the checkout, not a regular file, hard-linked, or too big."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Checkout:
    """A repo's checkout as the hub may read it: real paths, the workplan directory inside the root."""

    root: str
    workplans: str
    workplan_dir: str  # as the repo names it, for the relative paths in reports and `source_path`


@dataclass
class FileRead:
    """One workplan file as read: parsed, recognised as unchanged by its hash, or an error."""

    path: str  # relative to the checkout, e.g. "workplans/CUST-WP-0040-x.md"
    content_hash: str | None = None
    spec: WorkplanSpec | None = None
    unchanged: bool = False
    error: str | None = None
    line: int | None = None
    stamp: str | None = None  # the stamp to store with `content_hash` (read now, settled); None: none to store


def file_stamp(info: os.stat_result) -> str:
    """What identifies one version of a file without reading it: device, inode, size, mtime and ctime (ns)."""
    return f"{info.st_dev}:{info.st_ino}:{info.st_size}:{info.st_mtime_ns}:{info.st_ctime_ns}"


def _settled(info: os.stat_result, read_at_ns: int) -> bool:
    """Whether the file was last written long enough before it was read for its stamp to tell versions apart."""
    return max(info.st_mtime_ns, info.st_ctime_ns) <= read_at_ns - STAMP_SETTLE_NS


@dataclass
class Reading:
    """Every workplan file of a checkout, in order, and those not reached before the time ran out."""

    files: list[FileRead] = field(default_factory=list)
    not_reached: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.not_reached

    @property
    def specs(self) -> list[WorkplanSpec]:
        return [file.spec for file in self.files if file.spec is not None]


def open_checkout(repo: Repo) -> Checkout:
    """The repo's checkout, checked against `STATEHUB_REPO_ROOTS`; raise CheckoutRefused when it cannot be read."""
    if not repo.local_path:
        raise CheckoutRefused(f"Repo {repo.slug} has no local_path (no checkout the hub may read).")
    problem = local_path_problem(repo.local_path) or workplan_dir_problem(repo.workplan_dir)
    if problem:
        raise CheckoutRefused(f"Repo {repo.slug}: {problem}")
    root = os.path.realpath(repo.local_path)
    if not os.path.isdir(root):
        raise CheckoutRefused(f"Repo {repo.slug}: local_path {repo.local_path} is not a readable directory.")
    workplans = os.path.realpath(os.path.join(root, repo.workplan_dir))
    if not is_inside(workplans, root):
        raise CheckoutRefused(f"Repo {repo.slug}: {repo.workplan_dir}/ leads out of the checkout.")
    if not os.path.isdir(workplans):
        raise CheckoutRefused(f"Repo {repo.slug}: {repo.workplan_dir}/ does not exist under {repo.local_path}.")
    return Checkout(root=root, workplans=workplans, workplan_dir=PurePosixPath(repo.workplan_dir).as_posix())


def checkout_problem(repo: Repo) -> str | None:
    """Why the repo's workplan directory cannot be read, or None when it can."""
    try:
        open_checkout(repo)
    except CheckoutRefused as exc:
        return exc.message
    return None


@dataclass(frozen=True)
class Entry:
    """One listed workplan file: its path in the checkout, the path to open, and its metadata as listed."""

    relative: str
    path: str
    listed: os.stat_result | None  # lstat of the name in the resolved folder; None when it could not be taken


def _entries(checkout: Checkout) -> tuple[list[Entry], list[FileRead]]:
    """`*.md` and `archived/*.md` without README.md, as listed (not following symlinks), plus folders refused."""
    found: list[Entry] = []
    refused: list[FileRead] = []
    for relative_folder, folder in (
        (checkout.workplan_dir, checkout.workplans),
        (f"{checkout.workplan_dir}/archived", os.path.join(checkout.workplans, "archived")),
    ):
        real = os.path.realpath(folder)
        if not is_inside(real, checkout.root):
            refused.append(FileRead(path=relative_folder, error="directory leads out of the checkout; not read"))
            continue
        if not os.path.isdir(real):
            continue
        try:
            with os.scandir(real) as listing:
                entries = sorted(
                    (
                        entry
                        for entry in listing
                        if entry.name.endswith(".md")
                        and not entry.name.startswith(".")
                        and entry.name.lower() != "readme.md"
                    ),
                    key=lambda entry: entry.name,
                )
                found.extend(Entry(f"{relative_folder}/{entry.name}", entry.path, _listed(entry)) for entry in entries)
        except OSError as exc:
            refused.append(FileRead(path=relative_folder, error=f"directory cannot be listed: {exc.strerror or exc}"))
            continue
    return found, refused


def _listed(entry: os.DirEntry[str]) -> os.stat_result | None:
    try:
        return entry.stat(follow_symlinks=False)
    except OSError:
        return None  # gone or unreadable: reading it says why


def read_file(path: str, *, root: str, max_bytes: int) -> bytes:
    """A workplan file's bytes, if it is a regular file inside `root` of at most `max_bytes`; else FileRefused."""
    return read_file_and_stat(path, root=root, max_bytes=max_bytes)[0]


def read_file_and_stat(path: str, *, root: str, max_bytes: int) -> tuple[bytes, os.stat_result]:
    """`read_file`, with the metadata of the descriptor it was read from."""
    real = os.path.realpath(path)
    if not is_inside(real, root):
        raise FileRefused("is a symbolic link that leads out of the checkout; not opened")
    try:
        # Checked before opening: a FIFO or device would block or never end.
        listed = os.stat(real, follow_symlinks=False)
        if not stat.S_ISREG(listed.st_mode):
            raise FileRefused("is not a regular file; not opened")
        if listed.st_nlink > 1:
            raise FileRefused(_hard_linked(listed.st_nlink) + "; not opened")
        descriptor = os.open(real, _OPEN_FLAGS)
    except OSError as exc:
        raise FileRefused(f"cannot be opened: {exc.strerror or exc}") from exc
    with os.fdopen(descriptor, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise FileRefused("is not a regular file; not read")
        if info.st_nlink > 1:
            raise FileRefused(_hard_linked(info.st_nlink) + "; not read")
        if info.st_size > max_bytes:
            raise FileRefused(f"is {info.st_size} bytes, over WORKPLAN_MAX_BYTES ({max_bytes}); not read")
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise FileRefused(f"is over WORKPLAN_MAX_BYTES ({max_bytes}); not read")
    return data, info


def _hard_linked(links: int) -> str:
    return f"is a hard link ({links} names for one file), which may lead out of the checkout"


def read_workplans(
    checkout: Checkout,
    *,
    unchanged: Callable[[str, str], bool],
    out_of_time: Callable[[], bool],
    stamped: Callable[[str, str], str | None] | None = None,
) -> Reading:
    """Read and parse every workplan file of the checkout, skipping parsing where `unchanged(path, hash)`.

    `stamped(path, stamp)` gives the hash of a file whose stamp is the one stored with its
    workstream's `source_hash` (None otherwise): such a file is taken as unchanged without being
    opened. `out_of_time` is asked before each file; when it says yes, the files left are listed
    in `not_reached` and the reading stops.
    """
    reading = Reading()
    entries, reading.files = _entries(checkout)
    max_bytes = settings.WORKPLAN_MAX_BYTES
    by_stat = stamped is not None and settings.WORKPLAN_SKIP_UNCHANGED_BY_STAT
    for index, entry in enumerate(entries):
        if out_of_time():
            reading.not_reached = [item.relative for item in entries[index:]]
            break
        if by_stat and entry.listed is not None and _may_skip(entry.listed, max_bytes):
            assert stamped is not None
            digest = stamped(entry.relative, file_stamp(entry.listed))
            if digest is not None:
                reading.files.append(FileRead(path=entry.relative, content_hash=digest, unchanged=True))
                continue
        reading.files.append(_read_one(entry, root=checkout.root, max_bytes=max_bytes, unchanged=unchanged))
    return reading


def _may_skip(listed: os.stat_result, max_bytes: int) -> bool:
    """Whether the listed file passes the checks a read makes: regular (not a symlink), one link, small enough.

    It was listed in the checkout's resolved folder and is no symlink, so it is inside the checkout.
    """
    return stat.S_ISREG(listed.st_mode) and listed.st_nlink == 1 and listed.st_size <= max_bytes


def _read_one(entry: Entry, *, root: str, max_bytes: int, unchanged: Callable[[str, str], bool]) -> FileRead:
    relative = entry.relative
    read_at_ns = time.time_ns()
    try:
        data, info = read_file_and_stat(entry.path, root=root, max_bytes=max_bytes)
    except FileRefused as exc:
        return FileRead(path=relative, error=f"{Path(relative).name} {exc.message}")
    digest = content_hash(data)
    stamp = file_stamp(info) if _settled(info, read_at_ns) else None
    if unchanged(relative, digest):
        return FileRead(path=relative, content_hash=digest, unchanged=True, stamp=stamp)
    try:
        spec = parse_workplan(data, path=relative)
    except WorkplanError as exc:
        return FileRead(path=relative, content_hash=digest, error=exc.message, line=exc.line)
    return FileRead(path=relative, content_hash=digest, spec=spec, stamp=stamp)
