"""The base of every API view: authentication by API key or session, the acting user or key
for the audit trail, public ids in URLs."""

from django.contrib.auth.decorators import login_not_required
from rest_framework import viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from accounts.api.authentication import ApiKeyPrincipal
from audit.context import Actor


class PortalAPIMixin:
    """API views authenticate themselves (API key or session), so the site-wide login
    redirect does not apply: they answer 401/403 in the API's error format instead."""

    perms: dict[str, str] = {}

    @classmethod
    def as_view(cls, *args, **kwargs):
        return login_not_required(super().as_view(*args, **kwargs))

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        # Every documented query parameter takes one value: a second one is not quietly
        # dropped (as Django's QueryDict would, keeping the last).
        repeated = {
            name: ["Give this parameter once."]
            for name, values in request.query_params.lists()
            if len(values) > 1
        }
        if repeated:
            raise ValidationError(repeated)

    def finalize_response(self, request, response, *args, **kwargs):
        # An error is JSON in the API's format whatever was negotiated (`?format=csv`, the
        # browsable API): clients parse one format for every failure.
        if isinstance(response, Response) and response.status_code >= 400:
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)


class PortalViewSet(PortalAPIMixin, viewsets.GenericViewSet):
    lookup_field = "public_id"
    lookup_url_kwarg = "id"

    def actor(self) -> Actor:
        user = self.request.user
        return user.actor if isinstance(user, ApiKeyPrincipal) else Actor.user(user)
