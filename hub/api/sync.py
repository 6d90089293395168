"""Reconciliation endpoints: sync one repo now, or sweep every active repo within a time budget."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from hub import access
from hub.api.permissions import DomainWritePermission, require_write
from hub.api.serializers import RepoSerializer
from hub.models import Repo, Workstream
from hub.reconcile import CheckoutUnreadable, checkout_problem, repo_sync, sweep
from hub.selectors import get_by_key_or_id

# Reconciling writes a repo's workstreams and tasks: `hub.access` for a workstream of the repo's domain
# (an editor of it, or the org-wide hub.change_workstream); a sweep of every repo needs the org-wide one.


class SweepRequestSerializer(serializers.Serializer):
    """Body of POST /consistency/sweep."""

    repo = serializers.SlugField(required=False, max_length=100)
    fix = serializers.BooleanField(default=True)
    max_seconds = serializers.FloatField(default=300.0, min_value=1.0, max_value=3600.0)


class RepoSyncView(APIView):
    """POST /repos/{slug}/sync: reconcile that repo's workplan files now (with fix) and return the report."""

    permission_classes = [IsAuthenticated, DomainWritePermission]
    # Syncing takes no body: the browsable API shows the GET page an empty form with its POST button.
    serializer_class = serializers.Serializer

    @extend_schema(
        responses={200: RepoSerializer, 404: OpenApiResponse(description="Unknown repo.")},
        description="The repo as it is (last sync, last attempt): the browsable API shows it with the sync form.",
    )
    def get(self, request: Request, slug: str) -> Response:
        repo = get_by_key_or_id(Repo, slug, queryset=Repo.objects.filter(slug=slug).select_related("domain"))
        return Response(dict(RepoSerializer(repo, context={"request": request, "view": self}).data))

    @extend_schema(
        request=None,
        responses={
            200: OpenApiResponse(
                OpenApiTypes.OBJECT,
                description="The repo report (see ADR-001): whole counts, at most 20 findings listed; `truncated` "
                "and `full_report` (the command that prints them all) when more were found.",
            ),
            404: OpenApiResponse(description="Unknown repo."),
            409: OpenApiResponse(description="No readable checkout, or another reconciliation is running."),
        },
    )
    def post(self, request: Request, slug: str) -> Response:
        repo = get_by_key_or_id(Repo, slug, queryset=Repo.objects.filter(slug=slug))
        require_write(request, Workstream, access.domains_of(repo))
        return Response(repo_sync(repo=repo).as_dict(bounded=True))


class ConsistencySweepView(APIView):
    """POST /consistency/sweep (and /consistency/sweep/remote-all): reconcile every active repo, or one."""

    permission_classes = [IsAuthenticated, DomainWritePermission]

    @extend_schema(
        request=SweepRequestSerializer,
        responses={
            200: OpenApiResponse(
                OpenApiTypes.OBJECT,
                description="The sweep report, with `not_reached`: whole counts per repo, at most 20 findings a "
                "repo and 100 in all; `truncated` and `full_report` (the command that prints them all) when more "
                "were found.",
            ),
            400: OpenApiResponse(description="Invalid body."),
            404: OpenApiResponse(description="Unknown repo."),
            409: OpenApiResponse(description="A sweep is already running, or the named repo has no checkout."),
        },
    )
    def post(self, request: Request) -> Response:
        body = SweepRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        params = body.validated_data
        repos = None
        if params.get("repo"):
            repo = get_by_key_or_id(Repo, params["repo"], queryset=Repo.objects.filter(slug=params["repo"]))
            require_write(request, Workstream, access.domains_of(repo))
            problem = checkout_problem(repo)
            if problem:
                raise CheckoutUnreadable(problem)
            repos = [repo]
        else:
            require_write(request, Workstream, [access.NO_DOMAIN])
        report = sweep(repos=repos, fix=params["fix"], max_seconds=params["max_seconds"])
        return Response(report.as_dict(bounded=True))
