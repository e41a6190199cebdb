"""The base of every API view: authentication by API key or session, the acting user or key
for the audit trail, public ids in URLs."""

from django.contrib.auth.decorators import login_not_required
from rest_framework import viewsets

from accounts.api.authentication import ApiKeyPrincipal
from audit.context import Actor


class PortalAPIMixin:
    """API views authenticate themselves (API key or session), so the site-wide login
    redirect does not apply: they answer 401/403 in the API's error format instead."""

    perms: dict[str, str] = {}

    @classmethod
    def as_view(cls, *args, **kwargs):
        return login_not_required(super().as_view(*args, **kwargs))

    def actor(self) -> Actor:
        user = self.request.user
        return user.actor if isinstance(user, ApiKeyPrincipal) else Actor.user(user)


class PortalViewSet(PortalAPIMixin, viewsets.GenericViewSet):
    lookup_field = "public_id"
    lookup_url_kwarg = "id"
