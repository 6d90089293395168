"""Routes of the reconciliation endpoints (`/repos/{slug}/sync`, `/consistency/sweep`)."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
