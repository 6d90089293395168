"""Routes of the reconciliation endpoints (`/repos/{slug}/sync`, `/consistency/sweep`)."""

from django.urls import URLPattern, path

from hub.api.sync import ConsistencySweepView, RepoSyncView

urlpatterns: list[URLPattern] = [
    path("repos/<str:slug>/sync", RepoSyncView.as_view(), name="repo-sync"),
    path("consistency/sweep", ConsistencySweepView.as_view(), name="consistency-sweep"),
    path("consistency/sweep/remote-all", ConsistencySweepView.as_view(), name="consistency-sweep-remote-all"),
]
