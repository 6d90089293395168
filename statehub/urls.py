"""URL configuration: the admin and the API at the root paths of the delegation protocol."""

from django.contrib import admin
from django.urls import include, path

from statehub.metrics import MetricsView

admin.site.site_header = "State Hub"
admin.site.site_title = "State Hub admin"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api-auth/", include("rest_framework.urls")),
    path("metrics", MetricsView.as_view(), name="metrics"),
    path("", include("hub.api.urls")),
]

# Errors outside a DRF view (unmatched URL, middleware, the last resort) answer JSON on API paths.
handler400 = "statehub.errors.bad_request"
handler403 = "statehub.errors.permission_denied"
handler404 = "statehub.errors.page_not_found"
handler500 = "statehub.errors.server_error"
