"""URL configuration: the admin, and the API at the root paths of the delegation protocol.

Each app owns its API routes (`hub.api.urls`, `events.urls`); this module adds what belongs to
the whole API: its root page, the OpenAPI schema and docs, and the JSON error handlers.
"""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import APIRootView

from statehub.api.routes import route
from statehub.metrics import MetricsView

admin.site.site_header = "State Hub"
admin.site.site_title = "State Hub admin"


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
    path("admin/", admin.site.urls),
    path("api-auth/", include("rest_framework.urls")),
    path("metrics", MetricsView.as_view(), name="metrics"),
    path("", api_root, name="api-root"),
    path("", include("hub.api.urls")),
    path("", include("events.urls")),
    *route("schema/", SpectacularAPIView.as_view(), "schema"),
    *route("docs/", SpectacularSwaggerView.as_view(url_name="schema"), "docs"),
]

# Errors outside a DRF view (unmatched URL, middleware, the last resort) answer JSON on API paths.
handler400 = "statehub.api.errors.bad_request"
handler403 = "statehub.api.errors.permission_denied"
handler404 = "statehub.api.errors.page_not_found"
handler500 = "statehub.api.errors.server_error"
