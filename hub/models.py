"""The hub's domain model: the index of the organisation's workplan files and its decisions."""

import uuid
from typing import Any

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.core.validators import MaxLengthValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Upper
from knox.models import AbstractAuthToken

from hub.history import Door, DoorHistoricalRecords, current_door, current_user
from hub.keys import key_validator
from statehub.ordering import choice_rank

# Every text that goes into an event envelope has a bound, so an envelope always fits the NATS
# server's max payload (1 MB by default): at most six bytes a character once JSON-escaped.
RATIONALE_MAX_LENGTH = 50_000
# A decision's options, as every door accepts them (API, admin): how many, and how long each.
DECISION_OPTIONS_MAX = 100
DECISION_OPTION_MAX_LENGTH = 300

SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]*\Z"
slug_validator = RegexValidator(
    SLUG_PATTERN,
    "Use lowercase letters, digits and hyphens, starting with a letter or digit.",
    code="invalid_slug",
)


class HubModel(models.Model):
    """Common columns: a stable UUID (used in events as `*_id`) and aware UTC timestamps."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        abstract = True


class HistoryEntry(models.Model):
    """What every history row records beside simple-history's time, user and change type: the door."""

    door = models.CharField(max_length=20, choices=Door.choices, blank=True, default=current_door)

    class Meta:
        abstract = True


def change_history(**options: Any) -> DoorHistoricalRecords:
    """A history row per create and update, in the change's transaction, with its door and user (`hub.history`)."""
    return DoorHistoricalRecords(bases=[HistoryEntry], get_user=current_user, **options)


# Each model's statuses are defined at module level so that its `Meta` (whose body cannot see the
# model's own namespace) builds the check constraint from the same enum: `Status.values`, in order.
class DomainStatus(models.TextChoices):
    ACTIVE = "active"
    ARCHIVED = "archived"


class Domain(HubModel):
    """An area of the organisation (e.g. `custodian`) that owns repos and goals."""

    Status = DomainStatus

    slug = models.CharField(max_length=100, unique=True, validators=[slug_validator])
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)

    history = change_history()

    class Meta:
        ordering = ["slug"]
        constraints = [
            models.CheckConstraint(
                condition=Q(slug__regex=SLUG_PATTERN),
                name="domain_slug_format",
                violation_error_message="Invalid domain slug.",
            ),
            models.CheckConstraint(condition=Q(status__in=DomainStatus.values), name="domain_status_valid"),
        ]

    def __str__(self) -> str:
        return self.slug


class RepoStatus(models.TextChoices):
    ACTIVE = "active"
    ARCHIVED = "archived"


class Repo(HubModel):
    """A registered source repository whose workplan files the hub indexes."""

    Status = RepoStatus

    slug = models.CharField(max_length=100, unique=True, validators=[slug_validator])
    name = models.CharField(max_length=200, blank=True)
    domain = models.ForeignKey(Domain, on_delete=models.PROTECT, null=True, blank=True, related_name="repos")
    remote_url = models.CharField(max_length=500, blank=True)
    local_path = models.CharField(
        max_length=1000, blank=True, help_text="A checkout the hub may read: inside one of STATEHUB_REPO_ROOTS."
    )
    workplan_dir = models.CharField(
        max_length=200, default="workplans", help_text="Relative to local_path, without '..'."
    )
    default_branch = models.CharField(max_length=200, default="main")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    last_attempted_at = models.DateTimeField(
        null=True, blank=True, help_text="When a fixing reconciliation last started, whether it succeeded or not."
    )

    history = change_history(excluded_fields=["last_synced_at", "last_attempted_at"])

    class Meta:
        ordering = ["slug"]
        constraints = [
            models.CheckConstraint(
                condition=Q(slug__regex=SLUG_PATTERN),
                name="repo_slug_format",
                violation_error_message="Invalid repo slug.",
            ),
            models.CheckConstraint(condition=Q(status__in=RepoStatus.values), name="repo_status_valid"),
        ]

    def __str__(self) -> str:
        return self.slug


class DomainGoalStatus(models.TextChoices):
    PROPOSED = "proposed"
    ACTIVE = "active"
    SUPERSEDED = "superseded"
    ACHIEVED = "achieved"
    ARCHIVED = "archived"


class DomainGoal(HubModel):
    """A goal of a domain; at most one is active per domain at a time."""

    Status = DomainGoalStatus

    key = models.CharField(max_length=100, unique=True, validators=[slug_validator])
    domain = models.ForeignKey(Domain, on_delete=models.PROTECT, related_name="goals")
    title = models.CharField(max_length=300)
    description = models.TextField(blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PROPOSED)
    activated_at = models.DateTimeField(null=True, blank=True)

    history = change_history()

    class Meta:
        ordering = ["domain__slug", "key"]
        constraints = [
            models.UniqueConstraint(
                fields=["domain"],
                condition=Q(status=DomainGoalStatus.ACTIVE),
                name="one_active_goal_per_domain",
                violation_error_message="This domain already has an active goal.",
            ),
            models.CheckConstraint(condition=Q(status__in=DomainGoalStatus.values), name="domain_goal_status_valid"),
        ]

    def __str__(self) -> str:
        return self.key


class WorkstreamStatus(models.TextChoices):
    PROPOSED = "proposed"
    READY = "ready"
    ACTIVE = "active"
    BLOCKED = "blocked"
    BACKLOG = "backlog"
    COMPLETED = "completed"
    ARCHIVED = "archived"


class Workstream(HubModel):
    """A workplan: one `<PREFIX>-WP-NNNN-*.md` file in a repo, with its tasks."""

    Status = WorkstreamStatus
    # A closed workstream's open tasks are stale (`hub.stale`).
    CLOSED_STATUSES = (Status.COMPLETED, Status.ARCHIVED)

    key = models.CharField(
        max_length=100, unique=True, validators=[key_validator], help_text="The workplan id, e.g. CUST-WP-0040."
    )
    repo = models.ForeignKey(Repo, on_delete=models.PROTECT, related_name="workstreams")
    domain_goal = models.ForeignKey(
        DomainGoal, on_delete=models.SET_NULL, null=True, blank=True, related_name="workstreams"
    )
    title = models.CharField(max_length=300)
    owner = models.CharField(max_length=200, blank=True)
    priority = models.IntegerField(default=100, help_text="Lower comes first.")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PROPOSED)
    completed_at = models.DateTimeField(null=True, blank=True)
    source_path = models.CharField(
        max_length=1000,
        blank=True,
        help_text="The workplan file this workstream is read from. The file wins: the next sync "
        "brings the fields it states back to the file's values.",
    )
    source_hash = models.CharField(
        max_length=64, blank=True, help_text="SHA-256 of the file as last applied whole; empty while it is not."
    )
    missing_from_repo_at = models.DateTimeField(
        null=True, blank=True, help_text="Set when the workplan file is gone (an orphan, flagged not deleted)."
    )
    source_stamp = models.CharField(
        max_length=200,
        blank=True,
        help_text="The file's device, inode, size, mtime and ctime (ns) when it last hashed to source_hash: "
        "a sweep that finds the same stamp and hash skips reading it (`hub.reconcile.reading`).",
    )

    # The stamp is a cache of the file's metadata, not a change of the workstream: no history row for it.
    history = change_history(excluded_fields=["source_stamp"])

    class Meta:
        ordering = ["priority", "key"]
        indexes = [
            models.Index(fields=["status", "priority"]),
            # The lists' own order (API, MCP, admin): a page is read from the index, not sorted from all.
            models.Index(fields=["priority", "key"], name="workstream_priority_key_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=WorkstreamStatus.values), name="workstream_status_valid"),
            models.CheckConstraint(condition=~Q(key=""), name="workstream_key_not_empty"),
        ]

    def __str__(self) -> str:
        return self.key

    @property
    def sync_note(self) -> str | None:
        """For a workstream read from a file, that the file wins at the next sync; None otherwise."""
        if not self.source_path:
            return None
        return (
            f"Read from {self.source_path}: the file wins at the next sync. Title, status, owner, priority, "
            "domain goal and tasks edited here go back to the file's values; change the file instead."
        )


class TaskStatus(models.TextChoices):
    WAIT = "wait"
    TODO = "todo"
    PROGRESS = "progress"
    DONE = "done"
    CANCEL = "cancel"


class TaskPriority(models.TextChoices):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class Task(HubModel):
    """One task of a workstream, as listed in its workplan file."""

    Status = TaskStatus
    Priority = TaskPriority
    # A tuple, not a set: the order in which forms and messages list them.
    OPEN_STATUSES = (Status.WAIT, Status.TODO, Status.PROGRESS)

    key = models.CharField(
        max_length=120, unique=True, validators=[key_validator], help_text="The task id, e.g. CUST-WP-0040-T05."
    )
    workstream = models.ForeignKey(Workstream, on_delete=models.CASCADE, related_name="tasks")
    title = models.CharField(max_length=300)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.TODO)
    priority = models.CharField(max_length=20, choices=Priority.choices, default=Priority.MEDIUM)
    order = models.IntegerField(default=0)
    assignee = models.CharField(max_length=200, blank=True)
    blocking_reason = models.TextField(blank=True)
    last_activity_at = models.DateTimeField(null=True, blank=True)
    missing_from_workplan_at = models.DateTimeField(null=True, blank=True)
    # Copies of the workstream's status and priority, so that next steps read their order from one index
    # (`task_next_steps_order_idx`) instead of sorting every open task of every active workstream.
    # The database keeps them true, whoever writes (ADR 003, migration 0009's triggers): a task's
    # insert or change of workstream copies them from its workstream, and a workstream's change of
    # status or priority rewrites its tasks', in the same transaction. No caller sets them.
    workstream_status = models.CharField(max_length=20, default="", editable=False)
    workstream_priority = models.IntegerField(default=0, editable=False)

    # The copies are the workstream's history, not the task's.
    history = change_history(excluded_fields=["workstream_status", "workstream_priority"])

    class Meta:
        ordering = ["workstream__key", "order", "key"]
        indexes = [
            models.Index(fields=["status", "workstream"]),
            # Next steps: each (status, task priority) bucket of open tasks of active workstreams, in the
            # order within it (workstream priority, task order, key), read a page at a time.
            models.Index(
                fields=["status", "priority", "workstream_priority", "order", "key"],
                condition=Q(workstream_status="active", status__in=["todo", "progress"]),
                name="task_next_steps_order_idx",
            ),
            # Next steps walk active workstreams by priority and read each one's tasks of a status and
            # priority in (order, key) order from this index, stopping once a page is full.
            models.Index(fields=["workstream", "status", "priority", "order", "key"], name="task_next_steps_idx"),
            # `/tasks/?ordering=`: each field it offers, ending with the key as the API's order does
            # (statehub.api.filters.OrderingFilter), so a page of 200,000 tasks reads 50 index entries.
            # Priority and status order by their rank among the choices (statehub.ordering): the
            # index holds that very expression, or PostgreSQL would not use it.
            models.Index(fields=["title", "key"], name="task_title_key_idx"),
            models.Index(choice_rank("priority", TaskPriority.values), "key", name="task_priority_rank_key_idx"),
            models.Index(fields=["order", "key"], name="task_order_key_idx"),
            models.Index(choice_rank("status", TaskStatus.values), "key", name="task_status_rank_key_idx"),
            models.Index(fields=["last_activity_at", "key"], name="task_activity_key_idx"),
            # `?search=` (key, title) and the admin's search (also assignee) are `UPPER(field) LIKE
            # UPPER('%term%')`; trigram indexes on those expressions find a term of 3 characters or
            # more without reading every task.
            GinIndex(OpClass(Upper("key"), name="gin_trgm_ops"), name="task_key_trgm_idx"),
            GinIndex(OpClass(Upper("title"), name="gin_trgm_ops"), name="task_title_trgm_idx"),
            GinIndex(OpClass(Upper("assignee"), name="gin_trgm_ops"), name="task_assignee_trgm_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=TaskStatus.values), name="task_status_valid"),
            models.CheckConstraint(condition=Q(priority__in=TaskPriority.values), name="task_priority_valid"),
            models.CheckConstraint(condition=~Q(key=""), name="task_key_not_empty"),
        ]

    def __str__(self) -> str:
        return self.key

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES


class DecisionStatus(models.TextChoices):
    OPEN = "open"
    ESCALATED = "escalated"
    RESOLVED = "resolved"
    SUPERSEDED = "superseded"


class Decision(HubModel):
    """A question that needs an answer, with the options on the table and, once resolved, the choice."""

    Status = DecisionStatus
    # Waiting for an answer.
    PENDING_STATUSES = (Status.OPEN, Status.ESCALATED)

    key = models.CharField(max_length=100, unique=True, validators=[key_validator], help_text="e.g. DEC-0012")
    title = models.CharField(max_length=300)
    question = models.TextField(blank=True)
    options = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OPEN)
    repo = models.ForeignKey(Repo, on_delete=models.SET_NULL, null=True, blank=True, related_name="decisions")
    workstream = models.ForeignKey(
        Workstream, on_delete=models.SET_NULL, null=True, blank=True, related_name="decisions"
    )
    # Bounded because it goes into the `decision.resolved` envelope, which must fit NATS's max payload.
    rationale = models.TextField(
        blank=True, max_length=RATIONALE_MAX_LENGTH, validators=[MaxLengthValidator(RATIONALE_MAX_LENGTH)]
    )
    chosen_option = models.CharField(max_length=300, blank=True)
    decided_by = models.CharField(max_length=200, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    history = change_history()

    class Meta:
        ordering = ["key"]
        indexes = [
            # Next steps' boost: the decisions resolved in the last 7 days, a range of this index.
            models.Index(fields=["resolved_at"], condition=Q(status="resolved"), name="decision_resolved_at_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=DecisionStatus.values), name="decision_status_valid"),
            models.CheckConstraint(condition=~Q(key=""), name="decision_key_not_empty"),
        ]

    def __str__(self) -> str:
        return self.key


class ProgressEventType(models.TextChoices):
    NOTE = "note"
    MILESTONE = "milestone"
    BLOCKER = "blocker"
    INSIGHT = "insight"


class ProgressEvent(HubModel):
    """An append-only entry of the progress log."""

    EventType = ProgressEventType

    event_type = models.CharField(max_length=20, choices=EventType.choices, default=EventType.NOTE)
    summary = models.CharField(max_length=500)
    detail = models.TextField(blank=True)
    workstream = models.ForeignKey(
        Workstream, on_delete=models.SET_NULL, null=True, blank=True, related_name="progress_events"
    )
    task = models.ForeignKey(Task, on_delete=models.SET_NULL, null=True, blank=True, related_name="progress_events")
    author = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-created_at"]
        # `/progress-events/?ordering=event_type`, by the rank of the type among the choices (the log only grows).
        indexes = [
            models.Index(choice_rank("event_type", ProgressEventType.values), "id", name="progress_type_rank_id_idx")
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(event_type__in=ProgressEventType.values), name="progress_event_type_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_type}: {self.summary[:60]}"


class DomainRole(models.TextChoices):
    VIEWER = "viewer"
    EDITOR = "editor"


class DomainAccess(models.Model):
    """A role on a domain, granted to a user or to a group (exactly one of them); see `hub.access`.

    `editor` may write the domain's objects through every door; `viewer` records that someone reads
    it (reads are open to every signed-in user). Each grant and revoke is a history row with its door.
    """

    Role = DomainRole

    id = models.BigAutoField(primary_key=True)
    domain = models.ForeignKey(Domain, on_delete=models.CASCADE, related_name="access")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="domain_access"
    )
    group = models.ForeignKey(
        "auth.Group", on_delete=models.CASCADE, null=True, blank=True, related_name="domain_access"
    )
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.EDITOR)
    created_at = models.DateTimeField(auto_now_add=True)

    history = change_history()

    class Meta:
        ordering = ["domain__slug", "id"]
        verbose_name = "domain access"
        verbose_name_plural = "domain access"
        constraints = [
            models.CheckConstraint(
                condition=Q(user__isnull=False, group__isnull=True) | Q(user__isnull=True, group__isnull=False),
                name="domain_access_user_xor_group",
                violation_error_message="Grant a role to a user or to a group, not both.",
            ),
            models.UniqueConstraint(
                fields=["domain", "user"], condition=Q(user__isnull=False), name="domain_access_one_per_user"
            ),
            models.UniqueConstraint(
                fields=["domain", "group"], condition=Q(group__isnull=False), name="domain_access_one_per_group"
            ),
            models.CheckConstraint(condition=Q(role__in=DomainRole.values), name="domain_access_role_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.member_label}: {self.role} of {self.domain}"

    @property
    def member_label(self) -> str:
        return f"group:{self.group}" if self.group_id else str(self.user)


class ApiToken(AbstractAuthToken):
    """A named API and MCP token: knox's hashed, expiring token with a scope (`KNOX_TOKEN_MODEL`).

    The secret is shown once, at creation; the table holds its SHA-512 digest and its first 15
    characters (the lookup key). Its power is the intersection of this scope and its user's roles:
    `read_only` refuses every write; `domains` (when any) limits writes to those domains (and so
    refuses org-wide ones); `mcp_tools` (when any) limits writes to those MCP write tools, nothing
    else (not the API). Revoking deletes the row.
    """

    name = models.CharField(max_length=100)
    read_only = models.BooleanField(default=False)
    domains = models.ManyToManyField(Domain, blank=True, related_name="+")
    # Whether `domains` names any, set once at creation (a token's scope never changes): a request
    # with a token that names none then reads no scope table at all (`hub.access.grants`).
    domain_scoped = models.BooleanField(default=False, editable=False)
    mcp_tools = models.JSONField(default=list, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["user", "name"]
        verbose_name = "API token"
        constraints = [models.UniqueConstraint(fields=["user", "name"], name="api_token_name_unique_per_user")]

    def __str__(self) -> str:
        return f"{self.user}/{self.name}"

    def allows_org_writes(self) -> bool:
        """Whether this token's scope leaves its user's power whole (`statehub.api.permissions`)."""
        return not self.read_only and not self.mcp_tools and not self.domain_scoped
