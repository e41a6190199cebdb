"""A real OpenID Connect provider for tests: `oidc-provider-mock`, in-process on a free port.

The provider lets the test choose who signs in: `idp.set_user(sub, claims)` stores the claims
(e-mail, name, groups) the provider will vouch for, and the authorization step is its HTML
form, which takes the subject (a test POSTs it; a browser test fills it in). Any client id and
secret are accepted, and ID tokens are RS256-signed with keys from its JWKS endpoint, so the
portal's whole code path (discovery, PKCE, token exchange, signature, issuer and audience,
userinfo) runs for real.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import quote

import pytest
import requests

# Import the fixtures by their function names (`oidc_provider_fixture`, `sso_on_fixture`) and
# ask for them as `oidc_provider` / `sso_on`.
CLIENT_ID = "byods-portal-test"
CLIENT_SECRET = "sso-test-client-secret-5f2c9e"  # noqa: S105 - the mock accepts any secret
ROLE_MAP = "byods-ops=operator,byods-onb=onboarding,byods-audit=auditor"


@dataclass
class Idp:
    issuer: str

    def set_user(self, sub: str, claims: dict) -> None:
        response = requests.put(
            f"{self.issuer}/users/{quote(sub, safe='')}", json=claims, timeout=5
        )
        assert response.status_code == 204, response.text


@pytest.fixture(scope="session", name="oidc_provider")
def oidc_provider_fixture():
    """The provider, one per test session (its users are keyed by subject: tests pick their
    own). It speaks plain HTTP on loopback, which authlib allows only when told."""
    oidc_provider_mock = pytest.importorskip("oidc_provider_mock")
    previous = os.environ.get("AUTHLIB_INSECURE_TRANSPORT")
    os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"
    try:
        with oidc_provider_mock.run_server_in_thread(port=0) as server:
            yield Idp(issuer=f"http://localhost:{server.server_port}")
    finally:
        if previous is None:
            os.environ.pop("AUTHLIB_INSECURE_TRANSPORT", None)
        else:
            os.environ["AUTHLIB_INSECURE_TRANSPORT"] = previous


@pytest.fixture(name="sso_on")
def sso_on_fixture(settings, oidc_provider):
    """Single sign-on on, against the mock provider, with the brief's role map."""
    from accounts.sso import discovery_cache_clear

    settings.PORTAL_OIDC_ISSUER = oidc_provider.issuer
    settings.OIDC_RP_CLIENT_ID = CLIENT_ID
    settings.OIDC_RP_CLIENT_SECRET = CLIENT_SECRET
    settings.PORTAL_OIDC_ROLE_MAP = ROLE_MAP
    settings.PORTAL_OIDC_GROUPS_CLAIM = "groups"
    discovery_cache_clear()
    yield oidc_provider
    discovery_cache_clear()
