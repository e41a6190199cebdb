"""Staff management and the access review over the API: the same services and permissions as
the Staff pages (operators change, operators and auditors read)."""

from django.contrib.auth.models import User
from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response

from core.api.schema import error_example, example
from core.api.serializers import check_json
from core.api.views import PortalViewSet

from .. import selectors, services
from ..roles import Perm
from .serializers import (
    AccessReviewSerializer,
    InviteCreatedSerializer,
    InviteSerializer,
    ReasonSerializer,
    RoleChangeSerializer,
    StaffSerializer,
)

STAFF_EXAMPLE = {
    "id": "2f0c4a1e-7b3d-4c5e-9a8f-1d2e3f4a5b6c",
    "email": "ana@example.com",
    "name": "Ana Lima",
    "role": "onboarding",
    "active": True,
    "sign_in_method": "password",
    "second_factor": False,
    "last_sign_in": "2026-11-23T09:12:00Z",
    "locked_until": None,
    "invited_by": "ops@example.com",
}
REASON = {"reason": "Moved to the compliance team"}
SELF = error_example(
    "self", "You cannot change the role of yourself: ask another operator.", status=409
)
LAST = error_example(
    "last_operator",
    "Cannot deactivate ops@example.com: they are the last active operator. "
    "Make someone else an operator first.",
    status=409,
)
NO_REASON = error_example(
    "invalid", "Check the fields: reason.", {"reason": ["This field is required."]}
)
ACTION_EXAMPLES = [
    example("reason", REASON, response=False),
    example("account", STAFF_EXAMPLE),
    NO_REASON,
]
PUBLIC = ("id", "email", "name", "role", "active", "sign_in_method", "second_factor")
FIELDS = (*PUBLIC, "last_sign_in", "locked_until", "invited_by")


def _staff_row(row: dict) -> dict:
    return {k: row[k] for k in FIELDS}


class StaffViewSet(PortalViewSet):
    serializer_class = StaffSerializer
    pagination_class = None
    queryset = User.objects.none()  # rows come from the selectors; this names the model
    perms = {
        "list": Perm.VIEW_AUDIT,
        "retrieve": Perm.VIEW_AUDIT,
        "access_review": Perm.VIEW_AUDIT,
        "invite": Perm.MANAGE_STAFF,
        "role": Perm.MANAGE_STAFF,
        "deactivate": Perm.MANAGE_STAFF,
        "reactivate": Perm.MANAGE_STAFF,
        "unlock": Perm.MANAGE_STAFF,
        "reset_second_factor": Perm.MANAGE_STAFF,
        "revoke_sessions": Perm.MANAGE_STAFF,
    }

    def _by(self) -> User | None:
        user = self.request.user
        return user if isinstance(user, User) else None  # an API key acts as no person

    def _one(self, id) -> dict:
        person = selectors.staff_get(id)
        row = next(r for r in selectors.access_review_staff() if r["user"].pk == person.pk)
        return _staff_row(row)

    @extend_schema(
        summary="List staff accounts",
        tags=["staff"],
        responses={200: StaffSerializer(many=True)},
        examples=[example("list", [STAFF_EXAMPLE])],
    )
    def list(self, request):
        return Response([_staff_row(r) for r in selectors.access_review_staff()])

    @extend_schema(
        summary="One staff account", tags=["staff"], examples=[example("account", STAFF_EXAMPLE)]
    )
    def retrieve(self, request, id):
        return Response(self._one(id))

    @extend_schema(
        summary="Access review",
        description="Every staff account, every API key and the history of role changes "
        "(from the audit trail), as on the Access review page.",
        tags=["staff"],
        responses={200: AccessReviewSerializer},
        examples=[
            example(
                "review",
                {
                    "staff": [STAFF_EXAMPLE],
                    "api_keys": [
                        {
                            "id": "7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
                            "prefix": "byods_1a2b3c4d",
                            "name": "Nightly export",
                            "role": "auditor",
                            "created_by": "ops@example.com",
                            "created_at": "2026-10-01T08:00:00Z",
                            "last_used_at": "2026-11-23T02:00:00Z",
                            "expires_at": None,
                            "revoked_at": None,
                        }
                    ],
                    "role_changes": [
                        {
                            "id": "0d9c8b7a-6f5e-4d3c-2b1a-0f9e8d7c6b5a",
                            "occurred_at": "2026-11-20T10:00:00Z",
                            "account": "ana@example.com",
                            "action": "staff.role_changed",
                            "role_before": "auditor",
                            "role_after": "onboarding",
                            "by": "ops@example.com",
                            "reason": "Moved to the onboarding team",
                        }
                    ],
                },
            )
        ],
    )
    def access_review(self, request):
        history = [
            {
                "id": str(e.public_id),
                "occurred_at": e.occurred_at,
                "account": e.target_label,
                "action": e.action,
                "role_before": ((e.changes or {}).get("role") or {}).get("before"),
                "role_after": ((e.changes or {}).get("role") or {}).get("after"),
                "by": e.actor,
                "reason": e.reason,
            }
            for e in selectors.role_history()
        ]
        data = {
            "staff": [_staff_row(r) for r in selectors.access_review_staff()],
            "api_keys": selectors.access_review_apikeys(),
            "role_changes": history,
        }
        return Response(AccessReviewSerializer(data).data)

    @extend_schema(
        summary="Invite a staff member",
        description="Mails a one-time link (valid PORTAL_INVITE_HOURS) to choose a password. "
        "The link is never returned.",
        tags=["staff"],
        request=InviteSerializer,
        responses={201: InviteCreatedSerializer},
        examples=[
            example(
                "invite",
                {"email": "ana@example.com", "role": "onboarding", "reason": "New hire"},
                response=False,
            ),
            example(
                "invited",
                {
                    "id": "5e4d3c2b-1a0f-4e9d-8c7b-6a5f4e3d2c1b",
                    "email": "ana@example.com",
                    "role": "onboarding",
                    "expires_at": "2026-11-26T09:00:00Z",
                    "mailed": True,
                },
                201,
            ),
            error_example(
                "invalid",
                "Check the fields: email.",
                {"email": ["A staff account for ana@example.com already exists."]},
            ),
        ],
    )
    def invite(self, request):
        from ..views import send_invite_mail

        data = _valid(InviteSerializer, request)
        invite, token = services.staff_invite(
            email=data["email"],
            role=data["role"],
            reason=data["reason"],
            invited_by=self._by(),
            actor=self.actor(),
        )
        link = request.build_absolute_uri(reverse("accounts:invite_accept", args=[token]))
        inviter = self._by() or request.user
        mailed = send_invite_mail(invite, link, inviter)
        body = {
            "id": invite.public_id,
            "email": invite.email,
            "role": invite.role,
            "expires_at": invite.expires_at,
            "mailed": mailed,
        }
        return Response(InviteCreatedSerializer(body).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Change a staff member's role",
        description="409 `self` for one's own account, 409 `last_operator` for the last "
        "active operator.",
        tags=["staff"],
        request=RoleChangeSerializer,
        responses={200: StaffSerializer},
        examples=[
            example("role", {"role": "auditor", **REASON}, response=False),
            example("account", STAFF_EXAMPLE | {"role": "auditor"}),
            SELF,
            LAST,
            NO_REASON,
        ],
    )
    def role(self, request, id):
        data = _valid(RoleChangeSerializer, request)
        person = selectors.staff_get(id)
        services.staff_role_change(
            user=person, role=data["role"], reason=data["reason"], by=self._by(), actor=self.actor()
        )
        return Response(self._one(id))

    @extend_schema(
        summary="Deactivate a staff account",
        tags=["staff"],
        request=ReasonSerializer,
        responses={200: StaffSerializer},
        examples=[*ACTION_EXAMPLES, SELF, LAST],
    )
    def deactivate(self, request, id):
        return self._simple(request, id, services.staff_deactivate)

    @extend_schema(
        summary="Reactivate a staff account",
        tags=["staff"],
        request=ReasonSerializer,
        responses={200: StaffSerializer},
        examples=[*ACTION_EXAMPLES, SELF, LAST],
    )
    def reactivate(self, request, id):
        return self._simple(request, id, services.staff_reactivate)

    @extend_schema(
        summary="Unlock a throttled sign-in",
        tags=["staff"],
        request=ReasonSerializer,
        responses={200: StaffSerializer},
        examples=[*ACTION_EXAMPLES, SELF, LAST],
    )
    def unlock(self, request, id):
        return self._simple(request, id, services.staff_unlock)

    @extend_schema(
        summary="Reset the second factor",
        tags=["staff"],
        request=ReasonSerializer,
        responses={200: StaffSerializer},
        examples=[*ACTION_EXAMPLES, SELF, LAST],
    )
    def reset_second_factor(self, request, id):
        return self._simple(request, id, services.staff_mfa_reset)

    @extend_schema(
        summary="Revoke all sessions",
        tags=["staff"],
        request=ReasonSerializer,
        responses={200: StaffSerializer},
        examples=[*ACTION_EXAMPLES, SELF, LAST],
    )
    def revoke_sessions(self, request, id):
        return self._simple(request, id, services.staff_sessions_revoke)

    def _simple(self, request, id, service):
        data = _valid(ReasonSerializer, request)
        person = selectors.staff_get(id)
        service(user=person, reason=data["reason"], by=self._by(), actor=self.actor())
        return Response(self._one(id))


def _valid(serializer_class, request) -> dict:
    check_json(request.data, serializer_class().fields)  # JSON types; unknown fields refused
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
