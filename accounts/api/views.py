"""Staff management and the access review over the API: the same services and permissions as
the Staff pages (operators change, operators and auditors read)."""

from django.contrib.auth.models import User
from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response

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

PUBLIC = ("id", "email", "name", "role", "active", "sign_in_method", "second_factor")
FIELDS = (*PUBLIC, "last_sign_in", "locked_until", "invited_by")


def _staff_row(row: dict) -> dict:
    return {k: row[k] for k in FIELDS}


class StaffViewSet(PortalViewSet):
    serializer_class = StaffSerializer
    pagination_class = None
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

    @extend_schema(summary="List staff accounts", tags=["staff"])
    def list(self, request):
        return Response([_staff_row(r) for r in selectors.access_review_staff()])

    @extend_schema(summary="One staff account", tags=["staff"])
    def retrieve(self, request, id):
        return Response(self._one(id))

    @extend_schema(
        summary="Access review",
        description="Every staff account, every API key and the history of role changes "
        "(from the audit trail), as on the Access review page.",
        tags=["staff"],
        responses={200: AccessReviewSerializer},
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
    )
    def role(self, request, id):
        data = _valid(RoleChangeSerializer, request)
        person = selectors.staff_get(id)
        services.staff_role_change(
            user=person, role=data["role"], reason=data["reason"], by=self._by(), actor=self.actor()
        )
        return Response(self._one(id))

    @extend_schema(summary="Deactivate a staff account", tags=["staff"], request=ReasonSerializer)
    def deactivate(self, request, id):
        return self._simple(request, id, services.staff_deactivate)

    @extend_schema(summary="Reactivate a staff account", tags=["staff"], request=ReasonSerializer)
    def reactivate(self, request, id):
        return self._simple(request, id, services.staff_reactivate)

    @extend_schema(summary="Unlock a throttled sign-in", tags=["staff"], request=ReasonSerializer)
    def unlock(self, request, id):
        return self._simple(request, id, services.staff_unlock)

    @extend_schema(summary="Reset the second factor", tags=["staff"], request=ReasonSerializer)
    def reset_second_factor(self, request, id):
        return self._simple(request, id, services.staff_mfa_reset)

    @extend_schema(summary="Revoke all sessions", tags=["staff"], request=ReasonSerializer)
    def revoke_sessions(self, request, id):
        return self._simple(request, id, services.staff_sessions_revoke)

    def _simple(self, request, id, service):
        data = _valid(ReasonSerializer, request)
        person = selectors.staff_get(id)
        service(user=person, reason=data["reason"], by=self._by(), actor=self.actor())
        return Response(self._one(id))


def _valid(serializer_class, request) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
