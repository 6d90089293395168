"""The API's routes plus bare Django views (the same INSERT, the same work by hand, the same query) to compare."""

import json
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt

from hub import access, selectors, services
from hub.models import Task, Workstream
from hub.tokens import TokenProblem, token_verify


@csrf_exempt
def bare_task_create(request: HttpRequest) -> JsonResponse:
    """POST a task: parse JSON, find the workstream by key, one INSERT, answer 201 (no auth, no validation)."""
    data = json.loads(request.body)
    workstream = Workstream.objects.only("id").get(key=data["workstream"])
    task = Task.objects.create(key=data["key"], workstream=workstream, title=data["title"])
    return JsonResponse({"id": str(task.id), "key": task.key, "workstream": data["workstream"]}, status=201)


@csrf_exempt
def bare_task_create_same_work(request: HttpRequest) -> JsonResponse:
    """POST a task doing DRF's work by hand: token auth, the access rule, lookup, the same service, JSON out."""
    try:
        token = token_verify(request.headers.get("Authorization", "").removeprefix("Token "))
    except TokenProblem:
        return JsonResponse({"detail": "Authentication credentials were not provided."}, status=401)
    data = json.loads(request.body)
    workstream = Workstream.objects.select_related("repo").get(key=data["workstream"])
    if not access.may(token.user, token, Task, [workstream.repo.domain_id], action=access.ADD):
        return JsonResponse({"detail": "You do not have permission to perform this action."}, status=403)
    task = services.task_create(data={"key": data["key"], "workstream": workstream, "title": data["title"]})
    return JsonResponse(
        {
            "id": str(task.id),
            "key": task.key,
            "workstream": workstream.key,
            "repo": workstream.repo.slug,
            "title": task.title,
            "status": task.status,
            "priority": task.priority,
            "order": task.order,
            "assignee": task.assignee,
            "blocking_reason": task.blocking_reason,
            "last_activity_at": task.last_activity_at.isoformat() if task.last_activity_at else None,
            "missing_from_workplan_at": None,
            "created_at": task.created_at.isoformat(),
            "updated_at": task.updated_at.isoformat(),
        },
        status=201,
    )


def bare_workstream_list(request: HttpRequest) -> JsonResponse:
    """GET the first 50 workstreams with the same selector query and a count, serialized by hand."""
    queryset = selectors.workstream_list().order_by("priority", "key")
    page = selectors.workstream_task_counts_attach(workstreams=list(queryset[:50]))
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
            "tasks": workstream.task_counts,  # type: ignore[attr-defined]
            "updated_at": workstream.updated_at.isoformat(),
        }
        for workstream in page
    ]
    return JsonResponse({"count": queryset.count(), "results": results})


urlpatterns = [
    path("bare/tasks/", bare_task_create),
    path("bare/tasks-same-work/", bare_task_create_same_work),
    path("bare/workstreams/", bare_workstream_list),
    path("", include("statehub.urls")),
]
