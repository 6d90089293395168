"""API views of the outbox (`/events/`, the audit log of lifecycle events) and `/health`."""

import hashlib
import json
import uuid
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import django_filters
from django import forms
from django.conf import settings
from django.core.validators import MinValueValidator
from django.db.models import QuerySet
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_serializer,
    inline_serializer,
)
from rest_framework import exceptions, mixins, pagination, serializers, status, viewsets
from rest_framework.permissions import SAFE_METHODS, IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from events import asyncapi
from events.health import health_report
from events.models import OutboxEvent
from events.replay import Incarnation, incarnation_rows, stream_seq_before
from events.schemas import (
    SCHEMAS_PATH,
    published_schema,
    render_schema,
    schema_filename,
    versioned_schema_filename,
)
from events.services import outbox_event_requeue
from events.subjects import ENVELOPE_VERSION, REGISTRY
from statehub.api.errors import RETRY_AFTER_S
from statehub.api.links import SelfLinkField
from statehub.api.pagination import CheckedCursorPagination
from statehub.api.permissions import TokenAllowsOrgWrites
from statehub.api.throttling import AnonRateThrottle
from statehub.db.postgresql.base import without_restart_wait
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
            "aggregate",
            "stream_seq",
            "stream_created",
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
    """`?type=`/`?subject=`, `?status=`; the replay's `?after=` (stream sequence), `?since=`, `?stream_created=`."""

    type = django_filters.CharFilter(field_name="subject", max_length=200)
    subject = django_filters.ChoiceFilter(field_name="subject", choices=[(name, name) for name in REGISTRY])
    status = django_filters.ChoiceFilter(choices=OutboxEvent.Status.choices)
    after = StreamSeqFilter(field_name="stream_seq", lookup_expr="gt", min_value=0, max_value=2**63 - 1)
    since = django_filters.IsoDateTimeFilter(method="published_since")
    # Applied first, by `filter_queryset`: the stream incarnation a replay reads.
    stream_created = django_filters.IsoDateTimeFilter(method="any_incarnation")

    class Meta:
        model = OutboxEvent
        fields = ["type", "subject", "status"]

    incarnation: Incarnation | None = None

    def filter_queryset(self, queryset: QuerySet[OutboxEvent]) -> QuerySet[OutboxEvent]:
        """A replay reads one stream incarnation (a stream sequence means nothing outside its own)."""
        data = self.form.cleaned_data
        if any(self.data.get(name) not in (None, "") for name in REPLAY_PARAMETERS):
            self.incarnation = incarnation_rows(stream_created=data.get("stream_created"), after=data.get("after"))
            queryset = queryset.filter(self.incarnation.rows)
        return super().filter_queryset(queryset)

    def any_incarnation(self, queryset: QuerySet[OutboxEvent], name: str, value: Any) -> QuerySet[OutboxEvent]:
        return queryset

    def published_since(self, queryset: QuerySet[OutboxEvent], name: str, value: Any) -> QuerySet[OutboxEvent]:
        """Published at or after `value`, starting the walk in stream order near there (`stream_seq_before`)."""
        # The bound is looked for among the incarnation's own rows only, whatever else narrows the list.
        rows = self.incarnation.named_rows() if self.incarnation is not None else None
        return queryset.filter(published_at__gte=value, stream_seq__gt=stream_seq_before(value, rows=rows))


class ReplayPagination(CheckedCursorPagination):
    """Published events in publish order (stream sequence); the cursor stays valid while new events arrive."""

    ordering = "stream_seq"
    page_size_query_param = "page_size"
    max_page_size = 500
    # A stream sequence is never negative (the column alone allows it).
    position_validators: ClassVar[list[Callable[[Any], None]]] = [MinValueValidator(0)]


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
            OpenApiParameter(
                "stream_created",
                OpenApiTypes.DATETIME,
                description=(
                    "Replay: the stream incarnation (its creation time, as JetStream reports it) the replay "
                    "reads; default the live stream's. `?after=` with a former incarnation is a 409 "
                    "`stream_recreated`: replay it with `?since=` instead."
                ),
            ),
            OpenApiParameter("cursor", OpenApiTypes.STR, description="Replay: the cursor of a `next` link."),
        ],
        responses={
            200: EventPageSerializer,
            409: OpenApiResponse(description="`?after=` names a sequence of a former stream incarnation."),
        },
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
            return [IsAdminUser(), TokenAllowsOrgWrites()]
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
        "asyncapi_url": serializers.URLField(),
        "schemas": inline_serializer(
            "EventSchemaLink",
            {
                "subject": serializers.CharField(),
                "schema_version": serializers.CharField(),
                "url": serializers.URLField(help_text="The versioned URL (`ce-dataschema`): its content is fixed."),
                "latest_url": serializers.URLField(help_text="The subject's current schema, whatever its version."),
            },
            many=True,
        ),
    },
)


class ContractThrottle(AnonRateThrottle):
    """Anonymous readers of the event contract (schemas, AsyncAPI), throttled per address at `API_THROTTLE_CONTRACT`."""

    scope = "contract"


class ContractView(APIView):
    """A document of the public event contract: no authentication, an `ETag`, and long-lived caching.

    The schemas and the AsyncAPI document describe the contract, not data, so a consumer fetches
    them without a token. Each answer carries a strong `ETag` (a hash of its bytes) and answers 304
    to a matching `If-None-Match`; a versioned schema URL is `immutable` (its content never changes),
    every other document may be kept for `CONTRACT_CACHE_S`.
    """

    authentication_classes = ()
    permission_classes = ()
    throttle_classes = (ContractThrottle,)

    def contract_response(self, request: Request, body: str, content_type: str, *, immutable: bool) -> HttpResponse:
        data = body.encode()
        etag = '"' + hashlib.sha256(data).hexdigest()[:32] + '"'
        if immutable:
            cache_control = f"public, max-age={IMMUTABLE_CACHE_S}, immutable"
        else:
            cache_control = f"public, max-age={settings.CONTRACT_CACHE_S}"
        # A proxy that compresses weakens the tag (`W/"…"`); for a 304 a weak match is enough (RFC 9110).
        wanted = {tag.strip().removeprefix("W/") for tag in request.headers.get("If-None-Match", "").split(",")}
        response = HttpResponse(status=304) if etag in wanted or "*" in wanted else HttpResponse(data, content_type)
        response["ETag"] = etag
        response["Cache-Control"] = cache_control
        return response


# A year, the longest lifetime caches honour: what a versioned URL names never changes.
IMMUTABLE_CACHE_S = 365 * 24 * 3600
SCHEMA_CONTENT_TYPE = "application/schema+json"
SUBJECT_PARAMETER = OpenApiParameter("subject", OpenApiTypes.STR, OpenApiParameter.PATH, description="The subject.")
SCHEMA_RESPONSE = {
    (200, SCHEMA_CONTENT_TYPE): OpenApiResponse(OpenApiTypes.OBJECT, description="A JSON Schema (2020-12) document.")
}


class EventSchemaIndexView(ContractView):
    """The subjects whose envelopes have a JSON Schema, each with its versioned and its current URL."""

    @extend_schema(auth=[], responses={200: SchemaIndexSerializer})
    def get(self, request: Request) -> HttpResponse:
        base = request.build_absolute_uri(SCHEMAS_PATH)
        schemas = [
            {
                "subject": name,
                "schema_version": subject.schema_version,
                "url": base + versioned_schema_filename(name, subject.schema_version),
                "latest_url": base + schema_filename(name),
            }
            for name, subject in REGISTRY.items()
        ]
        asyncapi_url = request.build_absolute_uri(ASYNCAPI_PATH)
        body = {"version": ENVELOPE_VERSION, "asyncapi_url": asyncapi_url, "schemas": schemas}
        return self.contract_response(request, json.dumps(body, indent=2) + "\n", "application/json", immutable=False)


class EventSchemaView(ContractView):
    """The current JSON Schema (2020-12) of one subject's envelope, as in `docs/schemas/`."""

    @extend_schema(auth=[], parameters=[SUBJECT_PARAMETER], responses=SCHEMA_RESPONSE)
    def get(self, request: Request, subject: str) -> HttpResponse:
        registration = REGISTRY.get(subject)
        if registration is None:
            raise exceptions.NotFound(f"No event subject {subject!r}; GET {SCHEMAS_PATH} lists them.")
        return self.contract_response(request, render_schema(registration), SCHEMA_CONTENT_TYPE, immutable=False)


class EventSchemaVersionView(ContractView):
    """One published version of a subject's JSON Schema: the URL `ce-dataschema` names; its content never changes."""

    @extend_schema(
        auth=[],
        operation_id="events_schemas_version_retrieve",
        parameters=[
            SUBJECT_PARAMETER,
            OpenApiParameter("version", OpenApiTypes.STR, OpenApiParameter.PATH, description="e.g. `1.0`."),
        ],
        responses=SCHEMA_RESPONSE,
    )
    def get(self, request: Request, subject: str, version: str) -> HttpResponse:
        text = published_schema(subject, version)
        if text is None:
            raise exceptions.NotFound(
                f"No schema version {version!r} of event subject {subject!r}; GET {SCHEMAS_PATH} lists them."
            )
        return self.contract_response(request, text, SCHEMA_CONTENT_TYPE, immutable=True)


ASYNCAPI_PATH = "/events/asyncapi.json"


class AsyncAPIView(ContractView):
    """The AsyncAPI 3.0 document of the event stream, generated from the subject registry (as `docs/asyncapi.yaml`)."""

    @extend_schema(
        auth=[],
        responses={(200, "application/json"): OpenApiResponse(OpenApiTypes.OBJECT, description="AsyncAPI 3.0.")},
    )
    def get(self, request: Request) -> HttpResponse:
        return self.contract_response(request, asyncapi.render_asyncapi_json(), "application/json", immutable=False)


class AsyncAPIYamlView(ContractView):
    """The AsyncAPI 3.0 document as YAML: the text of `docs/asyncapi.yaml`."""

    @extend_schema(
        auth=[],
        responses={(200, "application/yaml"): OpenApiResponse(OpenApiTypes.OBJECT, description="AsyncAPI 3.0.")},
    )
    def get(self, request: Request) -> HttpResponse:
        return self.contract_response(request, asyncapi.render_asyncapi_yaml(), "application/yaml", immutable=False)


HealthSerializer = inline_serializer(
    "Health",
    {
        "status": serializers.ChoiceField(choices=["ok", "degraded", "down"]),
        "database": serializers.ChoiceField(choices=["ok", "unreachable"]),
        "nats": serializers.ChoiceField(choices=["ok", "unconfigured", "unreachable"]),
        "stream": serializers.ChoiceField(
            choices=["ok", "drifted", "missing", "unknown", "unconfigured"],
            help_text="The stream against the settings (`manage.py ensure_stream --check`); `drifted` degrades.",
        ),
        "stream_drift": serializers.ListField(child=serializers.CharField(), help_text="Each setting that differs."),
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
    """Callers of `/health` (anonymous by design) are throttled per client address at `API_THROTTLE_HEALTH`."""

    scope = "health"


class HealthView(APIView):
    """Liveness for monitors (no auth, throttled): database, NATS and outbox backlog; 503 when the database is down.

    The throttle is asked after the report, and only while the database serves: its counters may
    live in that database, and a monitor must learn that it is down within seconds, not after the
    throttle's own connection attempt (the report itself is cached per process, so it stays cheap).
    """

    authentication_classes = ()
    permission_classes = ()
    throttle_classes = (HealthThrottle,)

    def check_throttles(self, request: Request) -> None:
        """Deferred to `get`, once the report says whether the database answers."""

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
            with without_restart_wait():
                super().check_throttles(request)
            return Response(body)
        return Response(body, status=status.HTTP_503_SERVICE_UNAVAILABLE, headers={"Retry-After": str(RETRY_AFTER_S)})
