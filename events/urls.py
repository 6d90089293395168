"""Routes of the events app: the outbox as an audit log and replay, the event schemas, `/health`."""

from django.urls import URLPattern

from events.api import (
    AsyncAPIView,
    AsyncAPIYamlView,
    EventSchemaIndexView,
    EventSchemaVersionView,
    EventSchemaView,
    HealthView,
    OutboxEventViewSet,
)
from statehub.api.routes import action_methods, route

urlpatterns: list[URLPattern] = [
    *route("events/", OutboxEventViewSet.as_view({"get": "list"}, suffix="List", detail=False), "event-list"),
    # Before `events/<id>/`, which would take `schemas` for an event id.
    *route("events/schemas/", EventSchemaIndexView.as_view(), "event-schema-index"),
    *route("events/schemas/<str:subject>.json", EventSchemaView.as_view(), "event-schema"),
    *route("events/schemas/<str:subject>/<str:version>.json", EventSchemaVersionView.as_view(), "event-schema-version"),
    *route("events/asyncapi.json", AsyncAPIView.as_view(), "event-asyncapi"),
    *route("events/asyncapi.yaml", AsyncAPIYamlView.as_view(), "event-asyncapi-yaml"),
    *route(
        "events/<str:id>/",
        OutboxEventViewSet.as_view({"get": "retrieve"}, suffix="Instance", detail=True),
        "event-detail",
    ),
    *route(
        "events/<str:id>/requeue",
        OutboxEventViewSet.as_view(action_methods("requeue"), name="Requeue event", detail=True),
        "event-requeue",
    ),
    *route("health", HealthView.as_view(), "health"),
]
