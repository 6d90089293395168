"""Routes of the API at the root paths of DESIGN §7; each also answers in the other trailing-slash form."""

from collections.abc import Callable
from typing import Any

from django.urls import URLPattern, include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import APIRootView

from events.api import EventSchemaIndexView, EventSchemaView, HealthView, OutboxEventViewSet
from hub.api import views
from hub.api.schema import alias_of

COLLECTION: dict[str, Any] = {"get": "list", "post": "create"}
ITEM: dict[str, Any] = {"get": "retrieve", "patch": "partial_update"}


def action_methods(action: str) -> dict[str, Any]:
    """An action route: POST does it; GET shows the object's state (in the browsable API, with the action's form)."""
    return {"get": action, "post": action}


def route(route_path: str, view: Callable[..., Any], name: str) -> list[URLPattern]:
    """The path as documented, plus an undocumented alias with or without the trailing slash."""
    alias = route_path[:-1] if route_path.endswith("/") else route_path + "/"
    return [path(route_path, view, name=name), path(alias, alias_of(view), name=f"{name}-alias")]


def keyed(prefix: str, viewset: Any, basename: str, lookup: str = "key") -> list[URLPattern]:
    """Collection (`GET, POST`), item (`GET, PATCH`) and item history (`GET`) routes; other methods get 405."""
    # The suffixes name the pages of the browsable API and its breadcrumbs ("Decision List" / "Decision Instance").
    return [
        *route(f"{prefix}/", viewset.as_view(COLLECTION, suffix="List", detail=False), f"{basename}-list"),
        *route(
            f"{prefix}/<str:{lookup}>/", viewset.as_view(ITEM, suffix="Instance", detail=True), f"{basename}-detail"
        ),
        *route(
            f"{prefix}/<str:{lookup}>/history/",
            viewset.as_view({"get": "history"}, suffix="History", detail=True),
            f"{basename}-history",
        ),
    ]


class HubRootView(APIRootView):
    """The organisation's engineering state: repos, workstreams and their tasks, decisions, domain goals, events."""

    name = "State Hub"


api_root = HubRootView.as_view(
    api_root_dict={
        "domains": "domain-list",
        "repos": "repo-list",
        "domain-goals": "domain-goal-list",
        "workstreams": "workstream-list",
        "tasks": "task-list",
        "decisions": "decision-list",
        "progress-events": "progress-event-list",
        "next-steps": "next-steps",
        "events": "event-list",
        "event-schemas": "event-schema-index",
        "health": "health",
        "schema": "schema",
        "docs": "docs",
    }
)

urlpatterns = [
    path("", api_root, name="api-root"),
    *keyed("domains", views.DomainViewSet, "domain", lookup="slug"),
    *keyed("repos", views.RepoViewSet, "repo", lookup="slug"),
    *keyed("domain-goals", views.DomainGoalViewSet, "domain-goal"),
    *route(
        "domain-goals/<str:key>/activate",
        views.DomainGoalViewSet.as_view(action_methods("activate"), name="Activate goal", detail=True),
        "domain-goal-activate",
    ),
    *keyed("workstreams", views.WorkstreamViewSet, "workstream"),
    *keyed("tasks", views.TaskViewSet, "task"),
    *keyed("decisions", views.DecisionViewSet, "decision"),
    *route(
        "decisions/<str:key>/resolve",
        views.DecisionViewSet.as_view(action_methods("resolve"), name="Resolve decision", detail=True),
        "decision-resolve",
    ),
    *route(
        "progress-events/",
        views.ProgressEventViewSet.as_view(COLLECTION, suffix="List", detail=False),
        "progress-event-list",
    ),
    *route("next-steps/", views.NextStepsView.as_view(), "next-steps"),
    *route("events/", OutboxEventViewSet.as_view({"get": "list"}, suffix="List", detail=False), "event-list"),
    # Before `events/<id>/`, which would take `schemas` for an event id.
    *route("events/schemas/", EventSchemaIndexView.as_view(), "event-schema-index"),
    *route("events/schemas/<str:subject>.json", EventSchemaView.as_view(), "event-schema"),
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
    *route("schema/", SpectacularAPIView.as_view(), "schema"),
    *route("docs/", SpectacularSwaggerView.as_view(url_name="schema"), "docs"),
    path("", include("hub.api.sync_urls")),
]
