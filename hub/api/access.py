"""`/tokens/` (each user's own tokens) and `/domains/{slug}/members/` (who may edit a domain; org admins change it)."""

import datetime as dt

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from hub import access
from hub.models import DomainAccess
from hub.services.access import (
    domain_access_describe,
    domain_access_grant,
    domain_access_list,
    domain_access_revoke,
    domain_get,
)
from hub.tokens import NAME_MAX_LENGTH, token_create, token_describe, token_list, token_revoke
from statehub.api.permissions import ModelPermissionsWithRead, TokenAllowsOrgWrites


class TokenSerializer(serializers.Serializer):
    """A token as listed: never its secret."""

    name = serializers.CharField()
    user = serializers.CharField()
    created = serializers.DateTimeField()
    expiry = serializers.DateTimeField(allow_null=True)
    expired = serializers.BooleanField()
    last_used_at = serializers.DateTimeField(allow_null=True)
    read_only = serializers.BooleanField()  # type: ignore[assignment]  # a field of this name, not Field.read_only
    domains = serializers.ListField(child=serializers.CharField())
    mcp_tools = serializers.ListField(child=serializers.CharField())


class CreatedTokenSerializer(TokenSerializer):
    token = serializers.CharField(help_text="The secret: shown in this answer only (the hub stores its hash).")


class TokenCreateSerializer(serializers.Serializer):
    """The body of `POST /tokens/`."""

    name = serializers.CharField(max_length=NAME_MAX_LENGTH, help_text="Unique among your tokens.")
    expires_in_days = serializers.FloatField(
        required=False, min_value=0.001, max_value=3650, help_text="Expire after this many days (default: never)."
    )
    read_only = serializers.BooleanField(default=False, help_text="Refuse every write.")  # type: ignore[assignment]
    domains = serializers.ListField(
        child=serializers.SlugField(max_length=100),
        required=False,
        default=list,
        max_length=100,
        help_text="Write only in these domains (slugs); empty: wherever you may.",
    )
    mcp_tools = serializers.ListField(
        child=serializers.ChoiceField(choices=sorted(access.MCP_WRITE_TOOLS)),
        required=False,
        default=list,
        max_length=10,
        help_text="Write only through these MCP tools, nothing else; empty: no such limit.",
    )


class TokenListView(APIView):
    """Your own API tokens: list them (no secrets) or create one (its secret shown once).

    Creating or revoking a token needs a session or a token with no scope: a scoped token cannot mint a wider one.
    """

    permission_classes = [IsAuthenticated, TokenAllowsOrgWrites]
    serializer_class = TokenCreateSerializer

    @extend_schema(responses={200: TokenSerializer(many=True)})
    def get(self, request: Request) -> Response:
        return Response([token_describe(token) for token in token_list(user=request.user)])

    @extend_schema(
        request=TokenCreateSerializer,
        responses={201: CreatedTokenSerializer, 409: OpenApiResponse(description="You have a token of that name.")},
    )
    def post(self, request: Request) -> Response:
        body = TokenCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        days = data.get("expires_in_days")
        issued = token_create(
            user=request.user,
            name=data["name"],
            expires_in=dt.timedelta(days=days) if days is not None else None,
            read_only=data["read_only"],
            domains=data["domains"],
            mcp_tools=data["mcp_tools"],
        )
        return Response({**token_describe(issued.token), "token": issued.secret}, status=status.HTTP_201_CREATED)


class TokenDetailView(APIView):
    """DELETE `/tokens/{name}/`: revoke one of your tokens; it stops working at once."""

    permission_classes = [IsAuthenticated, TokenAllowsOrgWrites]

    @extend_schema(responses={204: None, 404: OpenApiResponse(description="You have no token of that name.")})
    def delete(self, request: Request, name: str) -> Response:
        token_revoke(user=request.user, name=name)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MemberSerializer(serializers.Serializer):
    domain = serializers.CharField()
    member = serializers.CharField(help_text="A username, or group:NAME.")
    user = serializers.CharField(allow_null=True)
    group = serializers.CharField(allow_null=True)
    role = serializers.ChoiceField(choices=DomainAccess.Role.values)
    created_at = serializers.DateTimeField()


class MemberGrantSerializer(serializers.Serializer):
    """The body of `POST /domains/{slug}/members/`."""

    member = serializers.CharField(max_length=200, help_text="A username, or group:NAME.")
    role = serializers.ChoiceField(choices=DomainAccess.Role.values, default=DomainAccess.Role.EDITOR)


MEMBER_PARAMETER = OpenApiParameter(
    "member", str, required=True, description="Whose role to revoke: a username, or group:NAME."
)


class DomainMembersView(APIView):
    """Who may edit a domain (`editor`) or reads it (`viewer`). Anyone signed in may look; org admins
    (`hub.add_domainaccess`, `hub.delete_domainaccess`) grant and revoke, each recorded with the door `api`.
    """

    permission_classes = [ModelPermissionsWithRead]
    queryset = DomainAccess.objects.all()  # the model whose permissions ModelPermissionsWithRead checks
    serializer_class = MemberGrantSerializer

    @extend_schema(responses={200: MemberSerializer(many=True)})
    def get(self, request: Request, slug: str) -> Response:
        return Response([domain_access_describe(grant) for grant in domain_access_list(domain=domain_get(slug))])

    @extend_schema(request=MemberGrantSerializer, responses={200: MemberSerializer, 201: MemberSerializer})
    def post(self, request: Request, slug: str) -> Response:
        domain = domain_get(slug)
        body = MemberGrantSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        grant, outcome = domain_access_grant(
            domain=domain, member=body.validated_data["member"], role=body.validated_data["role"]
        )
        answer = status.HTTP_201_CREATED if outcome == "granted" else status.HTTP_200_OK
        return Response(domain_access_describe(grant), status=answer)

    @extend_schema(parameters=[MEMBER_PARAMETER], responses={204: None, 404: OpenApiResponse(description="No role.")})
    def delete(self, request: Request, slug: str) -> Response:
        domain = domain_get(slug)
        member = request.query_params.get("member", "")
        if not member:
            raise serializers.ValidationError({"member": ["Name the member whose role to revoke: ?member=NAME."]})
        domain_access_revoke(domain=domain, member=member)
        return Response(status=status.HTTP_204_NO_CONTENT)
