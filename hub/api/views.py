"""API views: validate the request's shape, call one service or selector, serialize the result."""

from typing import Any, ClassVar

from django.db.models import Model, QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics, mixins, serializers, status, viewsets
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from hub import access, selectors, services
from hub.api import filters
from hub.api.history import HistoryPageSerializer, history_entries
from hub.api.permissions import DomainWritePermission, require_write
from hub.api.serializers import (
    DecisionResolveSerializer,
    DecisionSerializer,
    DomainGoalSerializer,
    DomainSerializer,
    NextStepSerializer,
    ProgressEventSerializer,
    RepoSerializer,
    TaskSerializer,
    WorkstreamSerializer,
)
from hub.models import Decision, Domain, DomainGoal, ProgressEvent, Repo, Task, Workstream
from statehub.db.restarts import retries_a_cut


def caller_name(request: Request) -> str:
    """The name writes are attributed to when the body names nobody."""
    return str(request.user.get_username())


class KeyedViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """List, create, read and patch objects named by key (or UUID) in the URL, and read each one's history.

    Every write goes to a service.
    """

    lookup_url_kwarg = "key"
    model: ClassVar[type[Model]]
    # Writes are checked against the object's domain (`hub.access`): its domain before, and after.
    permission_classes = [DomainWritePermission]
    ordering_fields: ClassVar[list[str]] = ["created_at", "updated_at"]
    # Ends every `?ordering=`, so rows that tie keep one order from page to page.
    ordering_tiebreak = "key"

    def get_object(self) -> Any:
        value = self.kwargs[self.lookup_url_kwarg]
        instance = selectors.get_by_key_or_id(self.model, value, queryset=self.get_queryset())
        self.check_object_permissions(self.request, instance)
        return instance

    @retries_a_cut
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        require_write(request, self.model, access.domains_after(self.model, data), action=access.ADD)
        instance = self.create_with_service(data)
        return Response(self._present(instance), status=status.HTTP_201_CREATED)

    @retries_a_cut
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        instance = self.get_object()
        serializer = self.get_serializer(instance, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        # Moving an object to another domain (a repo's domain, a task's workstream...) needs that one too.
        require_write(request, self.model, access.domains_after(self.model, data, instance))
        instance = self.update_with_service(instance, data)
        return Response(self._present(instance))

    @extend_schema(
        request=None,
        responses={200: HistoryPageSerializer},
        filters=False,
        description="Every create and change of this object, newest first: time, user (null for a sync or "
        "command), door (api, admin, mcp, sync, command), change type, and the fields it changed with their "
        "old and new values (every field on creation).",
    )
    def history(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        rows = selectors.object_history(self.get_object())
        paginator = self.paginator
        assert paginator is not None
        page = list(paginator.paginate_queryset(rows, request, view=self) or [])
        before_oldest = selectors.history_row_before(page[-1]) if page else None
        return paginator.get_paginated_response(history_entries(page, before_oldest=before_oldest))

    def create_with_service(self, data: dict[str, Any]) -> Model:
        raise NotImplementedError

    def update_with_service(self, instance: Any, data: dict[str, Any]) -> Model:
        raise NotImplementedError

    def _present(self, instance: Model) -> Any:
        """Serialize a written object as the list shows it (relations and counts loaded afresh)."""
        return self._output(self.get_queryset().get(pk=instance.pk))

    def _output(self, instance: Model) -> Any:
        """The object's representation (whatever serializer validated the request)."""
        output_class = self.serializer_class
        assert output_class is not None
        return output_class(instance, context=self.get_serializer_context()).data

    def _action_answer(self, instance: Model, *, changed: bool) -> Response:
        """What an action route answers: on GET the object as it is, after POST as the action left it.

        A plain dict rather than the object serializer's data, so that the browsable API builds the
        page's form from the action's own serializer, after a POST too.
        """
        return Response(dict(self._present(instance) if changed else self._output(instance)))


class DomainViewSet(KeyedViewSet):
    """Domains, by slug."""

    model = Domain
    lookup_url_kwarg = "slug"
    ordering_tiebreak = "slug"
    queryset = Domain.objects.all()
    serializer_class = DomainSerializer
    filterset_class = filters.DomainFilter
    search_fields = ["slug", "name"]
    ordering_fields = ["slug", "name", "status", "created_at", "updated_at"]

    def create_with_service(self, data: dict[str, Any]) -> Model:
        return services.domain_create(data=data)

    def update_with_service(self, instance: Any, data: dict[str, Any]) -> Model:
        return services.domain_update(domain=instance, data=data)


class RepoViewSet(KeyedViewSet):
    """Repos, by slug; creating one registers it and records `org.statehub.repo.registered`."""

    model = Repo
    lookup_url_kwarg = "slug"
    ordering_tiebreak = "slug"
    queryset = Repo.objects.select_related("domain")
    serializer_class = RepoSerializer
    filterset_class = filters.RepoFilter
    search_fields = ["slug", "name"]
    ordering_fields = ["slug", "name", "status", "last_synced_at", "created_at", "updated_at"]

    def create_with_service(self, data: dict[str, Any]) -> Model:
        return services.repo_register(data=data)

    def update_with_service(self, instance: Any, data: dict[str, Any]) -> Model:
        return services.repo_update(repo=instance, data=data)


class DomainGoalViewSet(KeyedViewSet):
    """Domain goals, by key; `activate` makes a proposed goal the domain's active one."""

    model = DomainGoal
    queryset = DomainGoal.objects.select_related("domain")
    serializer_class = DomainGoalSerializer
    filterset_class = filters.DomainGoalFilter
    search_fields = ["key", "title"]
    ordering_fields = ["key", "title", "status", "activated_at", "created_at", "updated_at"]

    def get_serializer_class(self) -> type[serializers.BaseSerializer]:
        # Activation takes no body: the browsable API shows it an empty form.
        return serializers.Serializer if self.action == "activate" else DomainGoalSerializer

    def create_with_service(self, data: dict[str, Any]) -> Model:
        return services.domain_goal_create(data=data)

    def update_with_service(self, instance: Any, data: dict[str, Any]) -> Model:
        return services.domain_goal_update(goal=instance, data=data)

    @extend_schema(
        methods=["GET"],
        responses={200: DomainGoalSerializer},
        description="The goal as it is: the browsable API shows it with the activation form.",
    )
    @extend_schema(
        methods=["POST"],
        request=None,
        responses={200: DomainGoalSerializer},
        description="Activate a proposed goal; the domain's active goal becomes `superseded`. 409 unless proposed.",
    )
    @retries_a_cut
    def activate(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        goal = self.get_object()
        if request.method == "GET":
            return self._action_answer(goal, changed=False)
        return self._action_answer(services.domain_goal_activate(goal=goal), changed=True)


class DespiteWorkplanQuerySerializer(serializers.Serializer):
    """The query of `PATCH /workstreams/{key}/`: whether a status the workplan file contradicts is meant."""

    despite_workplan = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Set a status the workstream's workplan file does not state (without it: 409 "
        "`contradicts_workplan`, naming the file). The next sync moves it back, or reports a conflict "
        "until the file agrees.",
    )


@extend_schema_view(partial_update=extend_schema(parameters=[DespiteWorkplanQuerySerializer]))
class WorkstreamViewSet(KeyedViewSet):
    """Workstreams, by key, with repo slug, domain slug and task counts; PATCH `status` follows the table.

    A status the workstream's workplan file contradicts is a 409 unless `?despite_workplan=true`.
    """

    model = Workstream
    queryset = Workstream.objects.none()
    serializer_class = WorkstreamSerializer
    filterset_class = filters.WorkstreamFilter
    search_fields = ["key", "title"]
    ordering_fields = ["key", "title", "priority", "status", "completed_at", "created_at", "updated_at"]

    def get_queryset(self) -> QuerySet[Workstream]:
        return selectors.workstream_list().order_by(*selectors.WORKSTREAM_LIST_ORDERING)

    def paginate_queryset(self, queryset: Any) -> Any:
        # Task counts for the rows of this page only: one query, whatever the number of tasks overall.
        page = super().paginate_queryset(queryset)
        return None if page is None else list(selectors.workstream_task_counts_attach(workstreams=page))

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(self._output(self.get_object()))

    def _output(self, instance: Model) -> Any:
        if not hasattr(instance, "task_counts"):
            selectors.workstream_task_counts_attach(workstreams=[instance])  # type: ignore[list-item]
        return super()._output(instance)

    def create_with_service(self, data: dict[str, Any]) -> Model:
        return services.workstream_create(data=data)

    def update_with_service(self, instance: Any, data: dict[str, Any]) -> Model:
        query = DespiteWorkplanQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        return services.workstream_update(
            workstream=instance, data=data, despite_workplan=query.validated_data["despite_workplan"]
        )


class TaskViewSet(KeyedViewSet):
    """Tasks, by key; PATCH `status` follows the transition table."""

    model = Task
    queryset = Task.objects.select_related("workstream__repo")
    serializer_class = TaskSerializer
    filterset_class = filters.TaskFilter
    search_fields = ["key", "title"]
    ordering_fields = ["key", "title", "priority", "status", "order", "last_activity_at", "created_at", "updated_at"]

    def create_with_service(self, data: dict[str, Any]) -> Model:
        return services.task_create(data=data)

    def _present(self, instance: Model) -> Any:
        # A created task still holds the workstream (and its repo) the serializer looked up: no re-read.
        if Task.workstream.is_cached(instance) and Workstream.repo.is_cached(instance.workstream):  # type: ignore[attr-defined]
            return self._output(instance)
        return super()._present(instance)

    def update_with_service(self, instance: Any, data: dict[str, Any]) -> Model:
        return services.task_update(task=instance, data=data)


class DecisionViewSet(KeyedViewSet):
    """Decisions, by key; `resolve` answers an open or escalated one and records `org.statehub.decision.resolved`."""

    model = Decision
    queryset = Decision.objects.select_related("repo", "workstream__repo")
    decision: Decision | None = None  # the decision a `resolve` request is about, read once
    serializer_class = DecisionSerializer
    filterset_class = filters.DecisionFilter
    search_fields = ["key", "title"]
    ordering_fields = ["key", "title", "status", "resolved_at", "created_at", "updated_at"]

    def get_serializer_class(self) -> type[serializers.BaseSerializer]:
        # The browsable API's form for `resolve` asks for the resolution, not a whole decision.
        return DecisionResolveSerializer if self.action == "resolve" else DecisionSerializer

    def get_serializer_context(self) -> dict[str, Any]:
        context = dict(super().get_serializer_context())
        if self.action == "resolve" and self.decision is not None:
            context["decision"] = self.decision  # its options are the choices of `chosen_option`
        return context

    def create_with_service(self, data: dict[str, Any]) -> Model:
        return services.decision_create(data=data)

    def update_with_service(self, instance: Any, data: dict[str, Any]) -> Model:
        return services.decision_update(decision=instance, data=data, actor=caller_name(self.request))

    @extend_schema(
        methods=["GET"],
        responses={200: DecisionSerializer},
        description="The decision as it is: the browsable API shows it with the resolution form, "
        "`chosen_option` a choice of its options.",
    )
    @extend_schema(
        methods=["POST"],
        request=DecisionResolveSerializer,
        responses={200: DecisionSerializer},
        description="Resolve an open or escalated decision (409 otherwise). `chosen_option` must be one of "
        "`options`; `decided_by` defaults to the caller. Also appends a `milestone` progress event.",
    )
    @retries_a_cut
    def resolve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        self.decision = decision = self.get_object()
        if request.method == "GET":
            return self._action_answer(decision, changed=False)
        body = self.get_serializer(data=request.data)
        body.is_valid(raise_exception=True)
        decision = services.decision_resolve(
            decision=decision,
            rationale=body.validated_data["rationale"],
            chosen_option=body.validated_data.get("chosen_option"),
            decided_by=body.validated_data.get("decided_by") or caller_name(request),
        )
        return self._action_answer(decision, changed=True)


class ProgressEventViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """The append-only progress log: list and add."""

    queryset = ProgressEvent.objects.select_related("workstream", "task")
    serializer_class = ProgressEventSerializer
    filterset_class = filters.ProgressEventFilter
    search_fields = ["summary"]
    ordering_fields = ["created_at", "event_type"]
    permission_classes = [DomainWritePermission]

    @retries_a_cut
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        require_write(request, ProgressEvent, access.domains_after(ProgressEvent, data), action=access.ADD)
        event = services.progress_event_add(
            summary=data["summary"],
            event_type=data.get("event_type", ProgressEvent.EventType.NOTE),
            detail=data.get("detail", ""),
            workstream=data.get("workstream"),
            task=data.get("task"),
            author=data.get("author") or caller_name(request),
        )
        return Response(self.get_serializer(event).data, status=status.HTTP_201_CREATED)


class NextStepsQuerySerializer(serializers.Serializer):
    """The optional filters of `/next-steps/`."""

    repo = serializers.CharField(required=False, max_length=100, help_text="Repo slug.")
    workstream = serializers.CharField(required=False, max_length=100, help_text="Workstream key.")
    domain = serializers.CharField(required=False, max_length=100, help_text="Domain slug.")


# The list-wide parameters other lists take that would change what "next" means.
UNSUPPORTED_NEXT_STEPS_PARAMETERS = ("ordering", "search")


@extend_schema(parameters=[NextStepsQuerySerializer])
class NextStepsView(generics.ListAPIView):
    """What to work on next (the read model behind MCP `get_next_steps`), each task with its reason."""

    serializer_class = NextStepSerializer
    permission_classes = [IsAuthenticated]
    filter_backends = ()

    def get_queryset(self) -> Any:
        query = NextStepsQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        # The order is the point of this list and its filters are its own: refuse rather than ignore the others'.
        refused = {
            name: [
                f"/next-steps/ takes no ?{name}=: it is always in next-step order and filters by repo, "
                "workstream and domain only (/tasks/ searches and orders tasks)."
            ]
            for name in UNSUPPORTED_NEXT_STEPS_PARAMETERS
            if name in self.request.query_params
        }
        if refused:
            raise serializers.ValidationError(refused)
        return selectors.NextStepList(**query.validated_data)
