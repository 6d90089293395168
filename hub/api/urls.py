"""Routes of the hub's API (domains, repos, goals, workstreams, tasks, decisions, progress, next steps, sync)."""

from typing import Any

from django.urls import URLPattern, path

from hub.api import views
from hub.api.access import DomainMembersView, TokenDetailView, TokenListView
from hub.api.sync import ConsistencySweepView, RepoSyncView
from statehub.api.routes import COLLECTION, ITEM, action_methods, route


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


urlpatterns: list[URLPattern] = [
    *keyed("domains", views.DomainViewSet, "domain", lookup="slug"),
    *route("domains/<str:slug>/members/", DomainMembersView.as_view(), "domain-members"),
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
    # Your own API tokens (hub.tokens).
    *route("tokens/", TokenListView.as_view(), "token-list"),
    *route("tokens/<str:name>/", TokenDetailView.as_view(), "token-detail"),
    # Reconciliation: the paths have no trailing slash in the protocol and get no alias.
    path("repos/<str:slug>/sync", RepoSyncView.as_view(), name="repo-sync"),
    path("consistency/sweep", ConsistencySweepView.as_view(), name="consistency-sweep"),
    path("consistency/sweep/remote-all", ConsistencySweepView.as_view(), name="consistency-sweep-remote-all"),
]
