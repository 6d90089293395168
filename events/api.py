"""API views of the outbox (`/events/`, the audit log of lifecycle events) and `/health`."""

import uuid
from collections.abc import Sequence
from typing import Any, ClassVar

import django_filters
from django import forms
from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_serializer,
    inline_serializer,
)
from rest_framework import exceptions, mixins, pagination, serializers, status, viewsets
from rest_framework.permissions import SAFE_METHODS, IsAdminUser, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from events.health import health_report
from events.models import OutboxEvent
from events.replay import stream_seq_before
from events.schemas import SCHEMAS_PATH, schema_filename, subject_schema
from events.services import outbox_event_requeue
from events.subjects import ENVELOPE_VERSION, REGISTRY
from statehub.api.errors import RETRY_AFTER_S
from statehub.api.links import SelfLinkField
from statehub.db.restarts import retries_a_cut
from statehub.pagination import BoundedCountPagination

ID_PARAMETER = OpenApiParameter("id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The event id.")


class OutboxEventSerializer(serializers.ModelSerializer):
    """An outbox row: the envelope as published (or to be) and its delivery state."""

    type = serializers.CharField(source="subject", read_only=True)
    url = SelfLinkField("event-detail", lookup_field="id")
    requeue_url = SelfLinkField("event-requeue", lookup_field="id")

    class Meta:
        model = OutboxEvent
        fields = [
            "id",
            "url",
            "type",
            "status",
            "attempts",
            "next_attempt_at",
            "published_at",
            "stream_seq",
            "last_error",
            "created_at",
            "envelope",
            "requeue_url",
        ]
        read_only_fields = fields


class StreamSeqFilter(django_filters.NumberFilter):
    """A JetStream stream sequence: a whole number, 0 or more."""

    field_class = forms.IntegerField


class OutboxEventFilter(django_filters.FilterSet):
    """`?type=`/`?subject=` (the subject), `?status=`; the replay's `?after=` (stream sequence) and `?since=`."""

    type = django_filters.CharFilter(field_name="subject", max_length=200)
    subject = django_filters.ChoiceFilter(field_name="subject", choices=[(name, name) for name in REGISTRY])
    status = django_filters.ChoiceFilter(choices=OutboxEvent.Status.choices)
    after = StreamSeqFilter(field_name="stream_seq", lookup_expr="gt", min_value=0, max_value=2**63 - 1)
    since = django_filters.IsoDateTimeFilter(method="published_since")

    class Meta:
        model = OutboxEvent
        fields = ["type", "subject", "status"]

    def published_since(self, queryset: QuerySet[OutboxEvent], name: str, value: Any) -> QuerySet[OutboxEvent]:
        """Published at or after `value`, starting the walk in stream order near there (`stream_seq_before`)."""
        return queryset.filter(published_at__gte=value, stream_seq__gt=stream_seq_before(value))


class ReplayPagination(pagination.CursorPagination):
    """Published events in publish order (stream sequence); the cursor stays valid while new events arrive."""

    ordering = "stream_seq"
    page_size_query_param = "page_size"
    max_page_size = 500


# Asking for either of these turns the audit log into the replay of what consumers received.
REPLAY_PARAMETERS = ("after", "since")


@extend_schema_serializer(many=False)
class EventPageSerializer(serializers.Serializer):
    """A page of `/events/`: the audit log's pages have a `count`, the replay's cursor pages do not."""

    count = serializers.IntegerField(required=False, help_text="The audit log's count; a replay has none.")
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = OutboxEventSerializer(many=True)


class OutboxEventViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The outbox as an audit log, and the replay of published events; staff may requeue a `failed` or `skipped` event.

    Without `?after=` or `?since=` the list is the audit log: every status, newest first, page
    numbers. With either it is the replay: published events only, in publish order (stream
    sequence), with cursor pagination, so a consumer pages from where it stopped while new events
    keep arriving.
    """

    queryset = OutboxEvent.objects.all()
    serializer_class = OutboxEventSerializer
    filterset_class = OutboxEventFilter
    # An audit log of a million rows: `count` is exact up to 10,000 and PostgreSQL's estimate above.
    # A replay pages with a cursor instead (`paginator`).
    pagination_class = BoundedCountPagination
    # Newest or oldest first; publish order is the replay's (`?after=`), and `?status=` filters.
    ordering_fields: ClassVar[list[str]] = ["created_at"]
    lookup_url_kwarg = "id"

    @property
    def replaying(self) -> bool:
        request = getattr(self, "request", None)
        params = getattr(request, "query_params", {})
        return self.action == "list" and any(name in params for name in REPLAY_PARAMETERS)

    @property
    def paginator(self) -> pagination.BasePagination | None:
        if not hasattr(self, "_paginator"):
            self._paginator = ReplayPagination() if self.replaying else BoundedCountPagination()
        return self._paginator

    def get_queryset(self) -> QuerySet[OutboxEvent]:
        queryset = super().get_queryset()
        if not self.replaying:
            return queryset
        params = self.request.query_params
        if params.get("status", OutboxEvent.Status.PUBLISHED) != OutboxEvent.Status.PUBLISHED:
            raise exceptions.ValidationError({"status": ["A replay (?after= or ?since=) lists published events only."]})
        if "ordering" in params:
            raise exceptions.ValidationError({"ordering": ["A replay is always in publish order (stream sequence)."]})
        return queryset.filter(status=OutboxEvent.Status.PUBLISHED, stream_seq__isnull=False)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "after",
                OpenApiTypes.INT,
                description="Replay: published events with a stream sequence above this one, in publish order.",
            ),
            OpenApiParameter(
                "since",
                OpenApiTypes.DATETIME,
                description="Replay: published events published at or after this time, in publish order.",
            ),
            OpenApiParameter("cursor", OpenApiTypes.STR, description="Replay: the cursor of a `next` link."),
        ],
        responses={200: EventPageSerializer},
        description=(
            "The audit log of the outbox, newest first. With `?after=<stream_seq>` or `?since=<time>` "
            "(optionally `&subject=`) it is the replay: published events only, in publish order, "
            "cursor-paginated (`next`, `previous`, `results`; no `count`)."
        ),
    )
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    def get_permissions(self) -> Sequence[Any]:
        # Anyone signed in may look at the requeue page (the event and, for staff, its form).
        if self.action == "requeue" and self.request.method not in SAFE_METHODS:
            return [IsAdminUser()]
        return super().get_permissions()

    def get_serializer_class(self) -> type[serializers.BaseSerializer]:
        # Requeueing takes no body: the browsable API shows it an empty form.
        return serializers.Serializer if self.action == "requeue" else OutboxEventSerializer

    def get_object(self) -> OutboxEvent:
        try:
            event_id = uuid.UUID(str(self.kwargs["id"]))
        except ValueError:
            raise exceptions.NotFound(f"No event {self.kwargs['id']!r}: event ids are UUIDs.") from None
        event = self.get_queryset().filter(pk=event_id).first()
        if event is None:
            raise exceptions.NotFound(f"No event {event_id}.")
        return event

    @extend_schema(parameters=[ID_PARAMETER])
    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().retrieve(request, *args, **kwargs)

    @extend_schema(
        methods=["GET"],
        responses={200: OutboxEventSerializer},
        parameters=[ID_PARAMETER],
        description="The event as it is: the browsable API shows it with the requeue form (staff).",
    )
    @extend_schema(
        methods=["POST"],
        request=None,
        responses={200: OutboxEventSerializer},
        parameters=[ID_PARAMETER],
        description="Staff only: put a `failed` or `skipped` event back to `pending` (409 for any other status).",
    )
    @retries_a_cut
    def requeue(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        event = self.get_object()
        if request.method == "POST":
            event = outbox_event_requeue(event=event)
        # A plain dict: the browsable API then shows the requeue form, not a form of the event's fields.
        return Response(dict(OutboxEventSerializer(event, context=self.get_serializer_context()).data))


SchemaIndexSerializer = inline_serializer(
    "EventSchemaIndex",
    {
        "version": serializers.CharField(),
        "schemas": inline_serializer(
            "EventSchemaLink", {"subject": serializers.CharField(), "url": serializers.URLField()}, many=True
        ),
    },
)


class EventSchemaIndexView(APIView):
    """The subjects whose envelopes have a JSON Schema, each with the URL of its schema."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: SchemaIndexSerializer})
    def get(self, request: Request) -> Response:
        schemas = [
            {"subject": name, "url": request.build_absolute_uri(SCHEMAS_PATH + schema_filename(name))}
            for name in REGISTRY
        ]
        return Response({"version": ENVELOPE_VERSION, "schemas": schemas})


class EventSchemaView(APIView):
    """The JSON Schema (2020-12) of one subject's envelope, as in `docs/schemas/`."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        parameters=[OpenApiParameter("subject", OpenApiTypes.STR, OpenApiParameter.PATH, description="The subject.")],
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description="A JSON Schema document.")},
    )
    def get(self, request: Request, subject: str) -> Response:
        registration = REGISTRY.get(subject)
        if registration is None:
            raise exceptions.NotFound(f"No event subject {subject!r}; GET {SCHEMAS_PATH} lists them.")
        return Response(subject_schema(registration))


HealthSerializer = inline_serializer(
    "Health",
    {
        "status": serializers.ChoiceField(choices=["ok", "degraded", "down"]),
        "database": serializers.ChoiceField(choices=["ok", "unreachable"]),
        "nats": serializers.ChoiceField(choices=["ok", "unconfigured", "unreachable"]),
        "outbox": inline_serializer(
            "HealthOutbox",
            {
                "pending": serializers.IntegerField(allow_null=True),
                "failed": serializers.IntegerField(allow_null=True),
                "oldest_pending_age_s": serializers.FloatField(allow_null=True),
            },
        ),
    },
)


class HealthThrottle(AnonRateThrottle):
    """Callers of `/health` (anonymous by design) are throttled per address at `API_THROTTLE_HEALTH`."""

    scope = "health"


class HealthView(APIView):
    """Liveness for monitors (no auth, throttled): database, NATS and outbox backlog; 503 when the database is down."""

    authentication_classes = ()
    permission_classes = ()
    throttle_classes = (HealthThrottle,)

    @extend_schema(
        auth=[],
        responses={
            200: HealthSerializer,
            503: OpenApiResponse(HealthSerializer, description="The database is unreachable."),
        },
    )
    def get(self, request: Request) -> Response:
        serving, body = health_report()
        if serving:
            return Response(body)
        return Response(body, status=status.HTTP_503_SERVICE_UNAVAILABLE, headers={"Retry-After": str(RETRY_AFTER_S)})
