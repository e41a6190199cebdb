"""API keys as DRF authentication: `Authorization: Bearer byods_<id>_<secret>`.

A key acts with its role, not as a user: the principal it authenticates answers `has_perm`
from the role table (`accounts.roles.role_has_perm`), so the one permission class the API uses
checks the same `Perm` names for signed-in staff and for keys.
"""

from __future__ import annotations

import datetime as dt
import hmac

from django.utils import timezone
from rest_framework import authentication, exceptions

from accounts.models import ApiKey
from accounts.roles import role_has_perm
from accounts.services import API_KEY_PREFIX, apikey_hash
from audit.context import Actor

PREFIX_LENGTH = len(API_KEY_PREFIX) + 8  # "byods_" + 8 hex characters
LAST_USED_EVERY = dt.timedelta(minutes=1)  # write last_used_at at most this often per key
_NO_KEY_HASH = apikey_hash("no such key")  # compared against when no row matches


class ApiKeyPrincipal:
    """`request.user` for a request made with an API key."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    pk = None

    def __init__(self, api_key: ApiKey) -> None:
        self.api_key = api_key
        self.role = api_key.role

    def has_perm(self, perm: str, obj=None) -> bool:
        return role_has_perm(self.role, perm)

    def get_username(self) -> str:
        return f"api:{self.api_key.prefix}"

    @property
    def actor(self) -> Actor:
        return Actor.api(self.api_key.prefix, str(self.api_key.public_id))

    def __str__(self) -> str:
        return self.get_username()


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None  # not ours: the session (browsable API) may still authenticate
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(
                "Send the key as “Authorization: Bearer byods_…”, with nothing after it."
            )
        try:
            key = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("Invalid API key.") from None
        return self.authenticate_key(key)

    def authenticate_key(self, key: str):
        row = None
        if key.startswith(API_KEY_PREFIX) and len(key) > PREFIX_LENGTH:
            row = ApiKey.objects.filter(prefix=key[:PREFIX_LENGTH]).first()
        # Constant-time comparison of the digests, made even when no row matched, so timing
        # tells nothing about which prefixes exist or how much of a secret was right.
        matches = hmac.compare_digest(apikey_hash(key), row.secret_hash if row else _NO_KEY_HASH)
        if row is None or not matches:
            raise exceptions.AuthenticationFailed("Invalid API key.")
        now = timezone.now()
        if row.revoked_at is not None:
            raise exceptions.AuthenticationFailed("This API key was revoked.")
        if row.expires_at is not None and row.expires_at <= now:
            raise exceptions.AuthenticationFailed("This API key has expired.")
        if row.last_used_at is None or row.last_used_at < now - LAST_USED_EVERY:
            # Throttled, conditional write: a busy key costs one UPDATE a minute, not one a call.
            ApiKey.objects.filter(pk=row.pk, last_used_at=row.last_used_at).update(last_used_at=now)
        return ApiKeyPrincipal(row), row

    def authenticate_header(self, request) -> str:
        return f'{self.keyword} realm="api"'
