"""Reconciling workplan files with the database (ADR-001): the file wins, the database is its index.

`reconcile_repo` compares one repo's workplan files with its workstreams and tasks and, with
`fix=True`, applies the differences through the hub's services (so transitions follow the table and
record their events). `sweep` does the same for many repos within a time budget. Writes never go
into the repositories. A PostgreSQL advisory lock keeps two fixing runs from interleaving.

The parts, each readable on its own (decide, then do):
- `reading`: the checkout and its files, safely (inside the allowed roots, regular files, bounded);
- `snapshot`: the repo's rows the files are compared with, read once;
- `comparing`: pure — files as read + snapshot → findings and a plan, no query, no write;
- `applying`: carries the plan out through the services only;
- `reporting`: findings and reports, as the command, API and MCP tool show them;
- `runs`: one repo or a sweep, the time budget and the advisory lock.
"""

from hub.reconcile.reading import checkout_problem
from hub.reconcile.reporting import Finding, RepoReport, SweepReport
from hub.reconcile.runs import (
    LOCK_KEY,
    CheckoutUnreadable,
    ReconciliationBusy,
    reconcile_repo,
    reconciliation_lock,
    repo_sync,
    run_repo,
    sweep,
)

__all__ = [
    "LOCK_KEY",
    "CheckoutUnreadable",
    "Finding",
    "ReconciliationBusy",
    "RepoReport",
    "SweepReport",
    "checkout_problem",
    "reconcile_repo",
    "reconciliation_lock",
    "repo_sync",
    "run_repo",
    "sweep",
]
