"""The API's routes plus two bare Django views doing the same INSERT and the same query, for comparison."""

import json
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt

from hub import selectors
from hub.models import Task, Workstream


@csrf_exempt
def bare_task_create(request: HttpRequest) -> JsonResponse:
    """POST a task: parse JSON, find the workstream by key, one INSERT, answer 201 (no auth, no validation)."""
    data = json.loads(request.body)
    workstream = Workstream.objects.only("id").get(key=data["workstream"])
    task = Task.objects.create(key=data["key"], workstream=workstream, title=data["title"])
    return JsonResponse({"id": str(task.id), "key": task.key, "workstream": data["workstream"]}, status=201)


def bare_workstream_list(request: HttpRequest) -> JsonResponse:
    """GET the first 50 workstreams with the same selector query and a count, serialized by hand."""
    queryset = selectors.workstream_list().order_by("priority", "key")
    results: list[dict[str, Any]] = [
        {
            "id": str(workstream.id),
            "key": workstream.key,
            "repo": workstream.repo.slug,
            "domain": workstream.repo.domain.slug if workstream.repo.domain else None,
            "domain_goal": workstream.domain_goal.key if workstream.domain_goal else None,
            "title": workstream.title,
            "status": workstream.status,
            "priority": workstream.priority,
            "tasks": {
                "total": workstream.tasks_total,  # type: ignore[attr-defined]
                "open": workstream.tasks_open,  # type: ignore[attr-defined]
                "done": workstream.tasks_done,  # type: ignore[attr-defined]
            },
            "updated_at": workstream.updated_at.isoformat(),
        }
        for workstream in queryset[:50]
    ]
    return JsonResponse({"count": queryset.count(), "results": results})


urlpatterns = [
    path("bare/tasks/", bare_task_create),
    path("bare/workstreams/", bare_workstream_list),
    path("", include("statehub.urls")),
]
