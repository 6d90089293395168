"""`manage.py consistency_check (--repo SLUG | --all) [--fix] [--json]`: workplan files against the database."""

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from hub import history
from hub.errors import NotFound
from hub.models import Repo
from hub.reconcile import ReconciliationBusy, RepoReport, reconcile_repo, sweep
from hub.selectors import get_by_key_or_id

# Exit status when another fixing run holds the advisory lock (0/1/2 keep their DESIGN §8 meaning).
EXIT_BUSY = 3


class Command(BaseCommand):
    """Report (or, with --fix, repair) every difference between workplan files and the hub (ADR-001)."""

    help = (
        "Compare workplan files with the database. Exit 0 clean, 1 drift/conflicts/unreadable files "
        "(after --fix: what could not be fixed) or files/repos a time budget did not reach, 2 warnings only, "
        "3 another fixing run is in progress."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        scope = parser.add_mutually_exclusive_group(required=True)
        scope.add_argument("--repo", metavar="SLUG", help="Check one repo.")
        scope.add_argument("--all", action="store_true", help="Check every active repo.")
        parser.add_argument("--fix", action="store_true", help="Apply the files' state through the services.")
        parser.add_argument("--json", action="store_true", help="Print a machine-readable report on stdout.")

    def handle(self, *args: Any, **options: Any) -> None:
        # The changes a fixing run applies are the `sync` door's (`hub.reconcile.applying`), made by no user.
        with history.door(history.Door.COMMAND):
            self._run(options)

    def _run(self, options: dict[str, Any]) -> None:
        try:
            if options["all"]:
                result = sweep(fix=options["fix"], max_seconds=None)
                reports, body = result.repos, None
                skipped = result.skipped
                exit_code = result.exit_code
            else:
                repo = get_by_key_or_id(Repo, options["repo"])
                report = reconcile_repo(repo=repo, fix=options["fix"])
                reports, body, skipped, exit_code = [report], report.as_dict(), [], report.exit_code
        except NotFound as exc:
            raise CommandError(exc.message) from exc
        except ReconciliationBusy as exc:
            raise CommandError(exc.message, returncode=EXIT_BUSY) from exc
        if options["json"] and body is None:
            # A sweep's JSON is written repo by repo: built whole, 300,000 findings would not fit the memory budget.
            for piece in result.json_lines():
                self.stdout.write(piece, ending="")
            self.stdout.write("")
        elif options["json"]:
            self.stdout.write(json.dumps(body, indent=2))
        else:
            for report in reports:
                self._write_report(report)
            for item in skipped:
                self.stdout.write(f"repo {item['repo']}: skipped ({item['reason']})")
        if exit_code:
            raise SystemExit(exit_code)

    def _write_report(self, report: RepoReport) -> None:
        counts = report.as_dict()["counts"]
        action = "fixed" if report.fix else "found"
        self.stdout.write(
            f"repo {report.repo}: {report.status} — {report.files} file(s), {report.files_unchanged} unchanged; "
            f"drift {action} {counts['drift']}, unresolved {counts['drift_unresolved']}, "
            f"conflicts {counts['conflicts']}, unreadable {counts['errors']}, warnings {counts['warnings']}"
        )
        sections = (
            ("DRIFT", report.unresolved_drift),
            ("FIXED", report.applied),
            ("CONFLICT", report.conflicts),
            ("UNREADABLE", report.errors),
            ("WARNING", report.warnings),
        )
        # One line per finding, under its outcome: drift applied is FIXED, never DRIFT as well.
        for label, items in sections:
            for item in items:
                self.stdout.write(f"  {label} [{item.kind}] {item.where} {item.message}")
