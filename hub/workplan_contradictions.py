"""Whether a status set in the hub contradicts the workplan file that describes the workstream.

The file wins (ADR-001): the next sync moves the workstream back to the file's status, or, when
the transition table forbids the way back (a workstream completed here that its file calls
`active`), reports a conflict in every run until file and hub agree. So a status change that the
file does not state is refused (`hub.errors.ContradictsWorkplan`, API 409) unless the caller says it means it
(`despite_workplan`); `workstream_update` asks here, so the API, the admin form and the admin's
bulk actions all say the same, naming the file. A file the hub cannot read now (no checkout,
refused, unparsable, another id) states nothing, as it would for a sync.
"""

import os
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings

from hub.errors import InvalidTransition
from hub.models import Workstream
from hub.transitions import check_transition
from hub.workplans import WorkplanError, parse_workplan


@dataclass(frozen=True)
class Contradiction:
    """A status set in the hub against what the workstream's workplan file says."""

    workstream_key: str
    source_path: str
    file_status: str
    new_status: str
    standing: bool  # the sync cannot move it back: a conflict in every report until file and hub agree

    @property
    def message(self) -> str:
        consequence = (
            f"every sync will report a conflict until the file says '{self.new_status}'"
            if self.standing
            else f"the next sync moves it back to '{self.file_status}'"
        )
        return (
            f"{self.workstream_key} is described by the workplan file {self.source_path}, which says status "
            f"'{self.file_status}': set to '{self.new_status}' here, {consequence}. Change the file instead, "
            "or confirm the change (API: ?despite_workplan=true; admin: 'Change it despite the workplan file')."
        )


def workplan_file_status(workstream: Workstream) -> str | None:
    """The status the workstream's workplan file states, or None when there is no file the hub can read now."""
    if not workstream.source_path:
        return None
    # Imported here: the reconcile package applies its plans through `hub.services`, which imports this module.
    from hub.reconcile.reading import CheckoutRefused, FileRefused, open_checkout, read_file

    try:
        checkout = open_checkout(workstream.repo)
        data = read_file(
            os.path.join(checkout.root, workstream.source_path),
            root=checkout.root,
            max_bytes=settings.WORKPLAN_MAX_BYTES,
        )
        spec = parse_workplan(data, path=workstream.source_path)
    except (CheckoutRefused, FileRefused, WorkplanError):
        return None
    return spec.status if spec.key == workstream.key else None


def workstream_status_contradiction(*, workstream: Workstream, status: str) -> Contradiction | None:
    """What the workstream's workplan file says against giving it `status` (a normalised word); None if nothing."""
    if status == workstream.status:
        return None
    return contradiction_with_file(workstream=workstream, status=status, file_status=workplan_file_status(workstream))


def contradiction_with_file(*, workstream: Workstream, status: str, file_status: str | None) -> Contradiction | None:
    """What a file stating `file_status` (None: no file the hub can read) says against giving `status`."""
    if status == workstream.status or file_status is None or file_status == status:
        return None
    try:
        check_transition(Workstream, status, file_status)
    except InvalidTransition:
        standing = True
    else:
        standing = False
    return Contradiction(
        workstream_key=workstream.key,
        source_path=workstream.source_path,
        file_status=file_status,
        new_status=status,
        standing=standing,
    )


def workstreams_status_contradictions(*, workstreams: Iterable[Workstream], status: str) -> list[Contradiction]:
    """The contradictions of giving each workstream `status`, skipping moves the table refuses anyway."""
    found = []
    for workstream in workstreams:
        if workstream.status != status:
            try:
                check_transition(Workstream, workstream.status, status)
            except InvalidTransition:
                continue  # refused for its own reason when the change is made
        contradiction = workstream_status_contradiction(workstream=workstream, status=status)
        if contradiction is not None:
            found.append(contradiction)
    return found
