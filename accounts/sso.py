"""Single sign-on with OpenID Connect (mozilla-django-oidc), configured from the environment.

* Off while `PORTAL_OIDC_ISSUER` is unset: the sign-in page shows no button, the SSO URLs
  answer 404 and the backend here answers nothing (sessions it made end too).
* The IdP's endpoints come from `{issuer}/.well-known/openid-configuration`, fetched at the
  first SSO request of a process and cached (`discovery()`), never at start-up, so a portal
  whose IdP is down still starts and password sign-in (when on) still works. A document that
  cannot be read is a clear `SsoConfigError`, shown to the person and logged.
* The ID token's signature, issuer and audience are checked (mozilla-django-oidc checks only
  the signature and nonce); the userinfo answer must name the same subject.
* The role comes from the IdP's groups (`PORTAL_OIDC_GROUPS_CLAIM`) through
  `PORTAL_OIDC_ROLE_MAP` at every sign-in: several mapped groups give the strongest role, no
  mapped group refuses the sign-in and removes any role the account had (the writes and their
  audit events are `accounts.services.staff_sso_sign_in`).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import jwt
import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core import checks
from django.core.exceptions import PermissionDenied, SuspiciousOperation
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from .roles import STAFF_ROLES, Role

logger = logging.getLogger(__name__)

BACKEND_PATH = "accounts.sso.PortalOIDCBackend"
DISCOVERY_PATH = "/.well-known/openid-configuration"
# How long one process trusts a discovery document; the signing keys themselves are fetched
# at every sign-in (by mozilla-django-oidc), so a key rotation at the IdP needs no restart.
DISCOVERY_TTL_SECONDS = 3600.0
# Most to least powerful: a person in several mapped groups gets the first role found here.
ROLE_STRENGTH: tuple[Role, ...] = (Role.OPERATOR, Role.ONBOARDING, Role.AUDITOR)


class SsoConfigError(Exception):
    """Single sign-on is misconfigured or the IdP's configuration cannot be read. The message
    names the setting or URL and never carries the client secret."""


def sso_enabled() -> bool:
    return bool(getattr(settings, "PORTAL_OIDC_ISSUER", ""))


def password_signin_enabled() -> bool:
    """Password sign-in is on unless switched off, and cannot be off while SSO is off."""
    return bool(settings.PORTAL_PASSWORD_SIGNIN) or not sso_enabled()


def issuer() -> str:
    return str(settings.PORTAL_OIDC_ISSUER).rstrip("/")


# ------------------------------------------------------------------------- discovery
@dataclass(frozen=True)
class Discovery:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    userinfo_endpoint: str
    jwks_uri: str
    signing_algs: tuple[str, ...]

    @property
    def sign_algo(self) -> str:
        """RS256 when offered (what OpenID Connect requires every IdP to support), else the
        first asymmetric algorithm the IdP lists: never an HMAC keyed with our secret."""
        if "RS256" in self.signing_algs or not self.signing_algs:
            return "RS256"
        for alg in self.signing_algs:
            if alg.startswith(("RS", "ES", "PS")):
                return alg
        raise SsoConfigError(
            f"The identity provider {self.issuer} signs ID tokens only with "
            f"{', '.join(self.signing_algs)}; the portal needs RS256, ES* or PS*."
        )


_discovery_cache: dict[str, tuple[float, Discovery]] = {}
_discovery_lock = threading.Lock()


def discovery(*, refresh: bool = False) -> Discovery:
    """The configured issuer's discovery document, cached per process for an hour."""
    if not sso_enabled():
        raise SsoConfigError("Single sign-on is off: PORTAL_OIDC_ISSUER is not set.")
    iss = issuer()
    now = time.monotonic()
    with _discovery_lock:
        cached = _discovery_cache.get(iss)
        if cached and not refresh and now - cached[0] < DISCOVERY_TTL_SECONDS:
            return cached[1]
    found = _fetch_discovery(iss)
    with _discovery_lock:
        _discovery_cache[iss] = (now, found)
    return found


def discovery_cache_clear() -> None:
    with _discovery_lock:
        _discovery_cache.clear()


def _fetch_discovery(iss: str) -> Discovery:
    url = iss + DISCOVERY_PATH
    where = f"the identity provider's configuration at {url} (PORTAL_OIDC_ISSUER)"
    try:
        response = requests.get(url, timeout=settings.OIDC_TIMEOUT)
        response.raise_for_status()
        doc = response.json()
    except requests.RequestException as exc:
        raise SsoConfigError(f"Could not read {where}: {_short(exc)}") from exc
    except ValueError as exc:
        raise SsoConfigError(f"Could not read {where}: the answer is not JSON.") from exc
    if not isinstance(doc, dict):
        raise SsoConfigError(f"Could not read {where}: the answer is not a JSON object.")
    required = (
        "issuer",
        "authorization_endpoint",
        "token_endpoint",
        "userinfo_endpoint",
        "jwks_uri",
    )
    missing = [key for key in required if not isinstance(doc.get(key), str) or not doc[key]]
    if missing:
        raise SsoConfigError(f"Could not use {where}: it lacks {', '.join(missing)}.")
    # OpenID Connect Discovery 1.0 §4.3: the document's issuer must be the one asked for,
    # or tokens from another issuer could be accepted.
    if doc["issuer"].rstrip("/") != iss:
        raise SsoConfigError(
            f"Could not use {where}: it names the issuer {doc['issuer']!r}, not {iss!r}."
        )
    algs = doc.get("id_token_signing_alg_values_supported") or []
    return Discovery(
        issuer=doc["issuer"],
        authorization_endpoint=doc["authorization_endpoint"],
        token_endpoint=doc["token_endpoint"],
        userinfo_endpoint=doc["userinfo_endpoint"],
        jwks_uri=doc["jwks_uri"],
        signing_algs=tuple(a for a in algs if isinstance(a, str)),
    )


def _short(exc: Exception) -> str:
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        return f"HTTP {exc.response.status_code}"
    if isinstance(exc, requests.Timeout):
        return "no answer in time"
    if isinstance(exc, requests.ConnectionError):
        return "cannot connect"
    return type(exc).__name__


# ------------------------------------------------------------------------- roles from groups
def role_map() -> dict[str, Role]:
    """`PORTAL_OIDC_ROLE_MAP` ("idp-group=role,...") as IdP group -> staff role.

    Raises SsoConfigError naming the entry that is malformed or names no staff role."""
    mapping: dict[str, Role] = {}
    raw = str(getattr(settings, "PORTAL_OIDC_ROLE_MAP", "") or "")
    staff = {r.value for r in STAFF_ROLES}
    for entry in (e.strip() for e in raw.split(",")):
        if not entry:
            continue
        group, sep, role = (part.strip() for part in entry.partition("="))
        if not sep or not group or not role:
            raise SsoConfigError(
                f"PORTAL_OIDC_ROLE_MAP: {entry!r} is not 'idp-group=role' "
                f"(roles: {', '.join(sorted(staff))})."
            )
        if role not in staff:
            raise SsoConfigError(
                f"PORTAL_OIDC_ROLE_MAP: {entry!r} names no staff role; use one of "
                f"{', '.join(sorted(staff))}."
            )
        mapping[group] = Role(role)
    return mapping


def groups_from_claims(claims: dict[str, Any]) -> list[str]:
    """The person's IdP groups: a list claim, or one string (one group, or several separated
    by commas or spaces, as some IdPs send them)."""
    value = claims.get(settings.PORTAL_OIDC_GROUPS_CLAIM)
    if isinstance(value, str):
        return [g for g in value.replace(",", " ").split() if g]
    if isinstance(value, (list, tuple)):
        return [str(g) for g in value if isinstance(g, (str, int))]
    return []


def role_for_groups(groups: list[str]) -> Role | None:
    """The strongest role any of `groups` maps to, or None."""
    mapping = role_map()
    found = {mapping[g] for g in groups if g in mapping}
    for role in ROLE_STRENGTH:
        if role in found:
            return role
    return None


def accepted_groups() -> list[tuple[str, str]]:
    """(IdP group, role label) pairs, strongest role first: what the refusal page lists.
    Group names are no secret (the IdP shows them to its users); nothing else is shown."""
    try:
        mapping = role_map()
    except SsoConfigError:
        return []
    order = {role: n for n, role in enumerate(ROLE_STRENGTH)}
    return [
        (group, role.label)
        for group, role in sorted(mapping.items(), key=lambda kv: (order[kv[1]], kv[0]))
    ]


# ------------------------------------------------------------------------- the backend
class SsoRefused(PermissionDenied):
    """The IdP vouched for the person, but the portal refuses them (the event is recorded).
    A PermissionDenied, so Django tries no other backend."""

    def __init__(self, reason: str, *, groups: list[str] | None = None):
        super().__init__(reason)
        self.reason = reason
        self.groups = groups or []


class PortalOIDCBackend(OIDCAuthenticationBackend):
    """mozilla-django-oidc's backend with the endpoints from discovery, the ID token's issuer
    and audience checked, and the account and its role kept in step with the IdP.

    Django makes a backend for every request that carries a session made by it (to load the
    user), so constructing one does nothing: discovery is read only inside `authenticate`.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        ModelBackend.__init__(self, *args, **kwargs)
        self.UserModel = get_user_model()
        self.OIDC_RP_CLIENT_ID = settings.OIDC_RP_CLIENT_ID
        self.OIDC_RP_CLIENT_SECRET = settings.OIDC_RP_CLIENT_SECRET
        self.OIDC_RP_IDP_SIGN_KEY = None
        self._discovery: Discovery | None = None

    # The endpoints mozilla-django-oidc reads, resolved on first use.
    @property
    def discovered(self) -> Discovery:
        if self._discovery is None:
            self._discovery = discovery()
        return self._discovery

    @property
    def OIDC_OP_TOKEN_ENDPOINT(self) -> str:  # noqa: N802 - the library's attribute name
        return self.discovered.token_endpoint

    @property
    def OIDC_OP_USER_ENDPOINT(self) -> str:  # noqa: N802
        return self.discovered.userinfo_endpoint

    @property
    def OIDC_OP_JWKS_ENDPOINT(self) -> str:  # noqa: N802
        return self.discovered.jwks_uri

    @property
    def OIDC_RP_SIGN_ALGO(self) -> str:  # noqa: N802
        return self.discovered.sign_algo

    def authenticate(self, request, **kwargs):
        # Only the SSO callback passes a nonce; a password form never reaches the IdP.
        if not sso_enabled() or request is None or "nonce" not in kwargs:
            return None
        try:
            return super().authenticate(request, **kwargs)
        except SuspiciousOperation as exc:
            # A token or userinfo answer that failed a check (signature, issuer, audience,
            # nonce, subject): no sign-in; Django then fires `user_login_failed`, which
            # records it (accounts/signals.py).
            logger.warning("single sign-on refused: %s", exc)
            return None

    def get_user(self, user_id):
        # Sessions made through SSO end when SSO is switched off.
        if not sso_enabled():
            return None
        user = super().get_user(user_id)
        return user if user is not None and self.user_can_authenticate(user) else None

    def retrieve_matching_jwk(self, token):
        """The IdP's key for `token`: the one its `kid` names, or, for a token without a
        `kid` (allowed when the IdP has one key), the only signing key of the right type.
        (mozilla-django-oidc's own lookup fails on a token without `kid`.)"""
        response = requests.get(self.OIDC_OP_JWKS_ENDPOINT, timeout=settings.OIDC_TIMEOUT)
        response.raise_for_status()
        keys = response.json().get("keys", [])
        header = jwt.get_unverified_header(token)
        kty = {"RS": "RSA", "PS": "RSA", "ES": "EC"}.get(self.OIDC_RP_SIGN_ALGO[:2])
        candidates = [
            k
            for k in keys
            if isinstance(k, dict)
            and k.get("kty") == kty
            and k.get("use", "sig") == "sig"
            and k.get("alg", self.OIDC_RP_SIGN_ALGO) == self.OIDC_RP_SIGN_ALGO
        ]
        if "kid" in header:
            candidates = [k for k in candidates if k.get("kid") == header["kid"]]
        if len(candidates) != 1:
            raise SuspiciousOperation("No single IdP key matches the ID token")
        return jwt.PyJWK(candidates[0], algorithm=self.OIDC_RP_SIGN_ALGO)

    def _verify_jws(self, payload, key):
        """The signature (with the algorithm we expect, never the token's own choice), expiry,
        issuer and audience. mozilla-django-oidc leaves out the last two."""
        header = jwt.get_unverified_header(payload)
        if header.get("alg") != self.OIDC_RP_SIGN_ALGO:
            raise SuspiciousOperation("ID token signed with an unexpected algorithm")
        try:
            return jwt.decode(
                payload,
                key,
                algorithms=[self.OIDC_RP_SIGN_ALGO],
                audience=self.OIDC_RP_CLIENT_ID,
                issuer=self.discovered.issuer,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
                leeway=60,
            )
        except jwt.PyJWTError as exc:
            raise SuspiciousOperation(f"ID token refused: {exc}") from exc

    def get_userinfo(self, access_token, id_token, payload):
        """The ID token's claims with the userinfo answer on top (some IdPs put the groups in
        only one of them); both must be about the same subject (OpenID Connect Core §5.3.2)."""
        info = super().get_userinfo(access_token, id_token, payload)
        if info.get("sub") != payload.get("sub"):
            raise SuspiciousOperation("userinfo names another subject than the ID token")
        return {**payload, **info}

    def verify_claims(self, claims):
        return bool(claims.get("sub"))

    def get_or_create_user(self, access_token, id_token, payload):
        from .services import staff_sso_sign_in

        claims = self.get_userinfo(access_token, id_token, payload)
        groups = groups_from_claims(claims)
        try:
            role = role_for_groups(groups)
        except SsoConfigError as exc:
            logger.error("single sign-on misconfigured: %s", exc)
            raise
        result = staff_sso_sign_in(
            issuer=self.discovered.issuer,
            subject=str(claims["sub"]),
            email=_email_from(claims),
            full_name=_name_from(claims),
            groups=groups,
            role=role,
        )
        if result.user is None:
            refused = SsoRefused(result.refusal, groups=groups)
            # Django swallows the exception (it only fires `user_login_failed`): the callback
            # view finds the refusal here to show why.
            self.request.sso_refused = refused
            raise refused
        return result.user


def _email_from(claims: dict[str, Any]) -> str:
    """The e-mail claim, unless the IdP says it is unverified (then nothing)."""
    email = claims.get("email")
    if not isinstance(email, str) or claims.get("email_verified") is False:
        return ""
    return email.strip().lower()


def _name_from(claims: dict[str, Any]) -> str:
    name = claims.get("name")
    if isinstance(name, str) and name.strip():
        return name.strip()
    parts = [claims.get("given_name"), claims.get("family_name")]
    return " ".join(p.strip() for p in parts if isinstance(p, str) and p.strip())


# ------------------------------------------------------------------------- system check
@checks.register(checks.Tags.security)
def check_sso_settings(app_configs=None, **kwargs):
    """`manage.py check` (and every start) reports a role map that names no role."""
    if not sso_enabled():
        return []
    try:
        mapping = role_map()
    except SsoConfigError as exc:
        return [checks.Error(str(exc), id="accounts.E001")]
    if not mapping:
        return [checks.Error("PORTAL_OIDC_ROLE_MAP maps no group to a role.", id="accounts.E002")]
    return []
