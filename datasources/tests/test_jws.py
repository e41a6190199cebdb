"""`datasources.jws`: every refusal reason, the key cache, the data source cache, the API's answer
and `manage.py verify_jws`. Tokens are crafted with PyJWT and our own RSA keys, served as a JWKS
over real HTTP by a local issuer; data sources are registered at the emulator as usual."""

from __future__ import annotations

import datetime as dt
import io
import json

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from django.core.management import call_command
from django.utils import timezone

from audit.models import AuditEvent
from datasources import jws
from datasources.jws import Code, JwksCache, Refusal, jws_verify, jws_verify_for_api
from datasources.models import DataSource
from datasources.services import datasource_disable
from tenants.models import CustomerOrg
from webex.jwks import JwksFetchError

from .conftest import SYSTEM
from .jws_support import LocalIssuer, claims_for, random_kid, sign

pytestmark = pytest.mark.django_db

KID, OTHER_KID = "kid-one", "kid-two"


@pytest.fixture(scope="module")
def private_keys():
    return {
        kid: rsa.generate_private_key(public_exponent=65537, key_size=2048)
        for kid in (KID, OTHER_KID)
    }


@pytest.fixture(autouse=True)
def fresh_caches():
    jws.jws_caches_clear()
    yield
    jws.jws_caches_clear()


@pytest.fixture
def local(settings, private_keys):
    issuer = LocalIssuer(private_keys)
    issuer.published = {KID}
    settings.JWS_ISSUERS = [*settings.JWS_ISSUERS, issuer.issuer]
    yield issuer
    issuer.close()


@pytest.fixture
def ds(register):
    return DataSource.objects.select_related("org").get(pk=register().pk)


@pytest.fixture
def token_for(ds, local, private_keys):
    def make(kid: str = KID, key_kid: str | None = None, **overrides):
        claims = claims_for(ds, local.issuer, **overrides)
        return sign(claims, private_keys[key_kid or kid], kid)

    return make


def refusal(token: str) -> Refusal:
    with pytest.raises(Refusal) as excinfo:
        jws_verify(token)
    return excinfo.value


# ------------------------------------------------------------------------------ accepted


def test_it_accepts_a_genuine_current_token_bare_or_bearer(ds, token_for, local):
    token = token_for()
    verified = jws_verify(token)
    assert verified.datasource_public_id == ds.public_id
    assert verified.org_public_id == ds.org.public_id
    assert verified.org_webex_id == ds.org.webex_org_id
    assert (verified.datasource_url, verified.schema_id) == (ds.url, ds.schema_id)
    assert (verified.nonce, verified.kid) == ("current", KID)
    assert verified.claims["jti"] == ds.nonce
    assert jws_verify(f"Bearer {token}").datasource_public_id == ds.public_id
    assert jws_verify(f"  bearer   {token} ").datasource_public_id == ds.public_id
    assert local.hits == 1  # the key set was fetched once and reused


def test_verifying_writes_no_audit_rows_and_counts_outcomes(ds, token_for):
    before_rows = AuditEvent.objects.count()
    before = jws.jws_counters()
    jws_verify(token_for())
    refusal(token_for(jti="unknown-nonce"))
    assert AuditEvent.objects.count() == before_rows
    after = jws.jws_counters()
    assert after.get("accepted", 0) == before.get("accepted", 0) + 1
    assert after.get("stale_nonce", 0) == before.get("stale_nonce", 0) + 1


# ------------------------------------------------------------------------------ refusals


@pytest.mark.parametrize(
    "token", ["", "Bearer ", "abc", "a.b", "a.b.c.d", "a.b.c!", "e30.e30.e30", "x" * 20000]
)
def test_it_refuses_malformed_tokens(token, local):
    assert refusal(token).code == Code.MALFORMED
    assert local.hits == 0


def test_it_refuses_a_token_from_an_issuer_not_on_the_allow_list_before_fetching_keys(
    ds, token_for, local, settings
):
    settings.JWS_ISSUERS = ["https://idbroker.webex.com/idb"]
    found = refusal(token_for())
    assert found.code == Code.ISSUER_NOT_ALLOWED
    assert local.issuer in found.message
    assert local.hits == 0
    # A look-alike of a real issuer is refused the same way.
    settings.JWS_ISSUERS = [*settings.JWS_ISSUERS, local.issuer]
    assert refusal(token_for(iss=local.issuer + "/")).code == Code.ISSUER_NOT_ALLOWED


def test_the_emulators_issuer_is_allowed_only_when_configured(settings, portal_app):
    emulator_issuer = settings.WEBEX_REGIONS["us"]["idbroker"]
    settings.JWS_ALLOW_EMULATOR = True
    assert emulator_issuer in jws.allowed_issuers()
    settings.JWS_ALLOW_EMULATOR = False
    assert emulator_issuer not in jws.allowed_issuers()
    assert "https://idbroker-eu.webex.com/idb" in jws.allowed_issuers()


def test_it_refuses_alg_none_and_hs256_without_fetching_keys(ds, local):
    claims = claims_for(ds, local.issuer)
    unsigned = jwt.encode(claims, None, algorithm="none", headers={"kid": KID})
    hmac = jwt.encode(
        claims, "a-shared-secret-of-32-bytes-or-more!", algorithm="HS256", headers={"kid": KID}
    )
    for token in (unsigned, hmac):
        found = refusal(token)
        assert found.code == Code.ALGORITHM_NOT_ALLOWED
        assert "RS256" in found.message
    assert local.hits == 0


def test_an_unknown_kid_refetches_once_then_is_refused(ds, token_for, local, monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(jws.jwks_cache, "_clock", clock)
    jws_verify(token_for())
    assert local.hits == 1
    # Right after a fetch, an unknown kid is refused without asking again.
    assert refusal(token_for(kid=OTHER_KID)).code == Code.UNKNOWN_KEY
    assert local.hits == 1
    # Later: one refetch (OTHER_KID is still not published), then the refusal.
    clock.now += 11
    assert refusal(token_for(kid=OTHER_KID)).code == Code.UNKNOWN_KEY
    assert local.hits == 2
    # A flood of random kids inside the refetch interval costs no further request.
    for _ in range(5):
        assert refusal(token_for(kid=random_kid(), key_kid=KID)).code == Code.UNKNOWN_KEY
    assert local.hits == 2
    clock.now += 11
    assert refusal(token_for(kid=random_kid(), key_kid=KID)).code == Code.UNKNOWN_KEY
    assert local.hits == 3
    assert jws_verify(token_for()).nonce == "current"  # known keys never wait


def test_a_new_kid_published_by_the_issuer_is_found_by_one_refetch(ds, token_for, local, settings):
    settings.JWS_JWKS_REFETCH_INTERVAL_SECONDS = 0
    jws_verify(token_for())
    local.published = {KID, OTHER_KID}
    assert jws_verify(token_for(kid=OTHER_KID)).kid == OTHER_KID
    assert local.hits == 2


def test_a_signature_by_another_key_is_refused(ds, token_for, local):
    assert refusal(token_for(kid=KID, key_kid=OTHER_KID)).code == Code.BAD_SIGNATURE
    token = token_for()
    header, claims, signature = token.split(".")
    tampered_claims = jwt.utils.base64url_encode(
        json.dumps({**jwt.decode(token, options={"verify_signature": False}), "sub": "x"}).encode()
    ).decode()
    assert refusal(f"{header}.{tampered_claims}.{signature}").code == Code.BAD_SIGNATURE


def test_an_expired_token_is_refused_and_the_leeway_is_small(ds, token_for, settings):
    settings.JWS_LEEWAY_SECONDS = 30
    now = int(timezone.now().timestamp())
    found = refusal(token_for(iat=now - 7200, exp=now - 3600))
    assert found.code == Code.EXPIRED
    assert jws_verify(token_for(iat=now - 3600, exp=now - 10)).nonce == "current"
    assert refusal(token_for(iat=now - 3600, exp=now - 31)).code == Code.EXPIRED


def test_a_token_issued_in_the_future_is_not_yet_valid(ds, token_for):
    now = int(timezone.now().timestamp())
    assert refusal(token_for(iat=now + 600, exp=now + 4200)).code == Code.NOT_YET_VALID
    assert refusal(token_for(nbf=now + 600)).code == Code.NOT_YET_VALID
    assert jws_verify(token_for(iat=now + 5)).nonce == "current"  # within the leeway


@pytest.mark.parametrize(
    "claim", ["aud", "sub", "jti", "exp", "iat", jws.CLAIM_URL, jws.CLAIM_SCHEMA, jws.CLAIM_ORG]
)
def test_it_requires_every_claim(ds, token_for, claim):
    found = refusal(token_for(**{claim: None}))
    assert found.code == Code.MISSING_CLAIM
    assert repr(claim) in found.message


def test_a_wrong_audience_or_subject_is_refused(ds, token_for):
    assert refusal(token_for(aud="someone-else")).code == Code.AUDIENCE_MISMATCH
    assert refusal(token_for(aud=["someone-else"])).code == Code.AUDIENCE_MISMATCH
    assert refusal(token_for(sub="another-subject")).code == Code.SUBJECT_MISMATCH
    assert jws_verify(token_for(aud=[ds.audience])).nonce == "current"


@pytest.mark.parametrize(
    "mutate",
    [
        lambda url: url.replace("byods.example.com", "byods.example.com:443"),
        lambda url: url + "/",
        lambda url: url.upper(),
        lambda url: url.replace("https://", "http://"),
    ],
    ids=["explicit-443", "trailing-slash", "case", "scheme"],
)
def test_a_url_that_differs_in_any_character_is_another_data_source(ds, token_for, mutate):
    assert ds.url == "https://rx.byods.example.com/feed"
    found = refusal(token_for(**{jws.CLAIM_URL: mutate(ds.url)}))
    assert found.code == Code.UNKNOWN_DATASOURCE


def test_another_schema_or_org_is_another_data_source(ds, token_for):
    other_schema = "1b2b7077-dbcd-4732-b2f9-296f9168168a"
    assert refusal(token_for(**{jws.CLAIM_SCHEMA: other_schema})).code == Code.UNKNOWN_DATASOURCE
    other_org = "6f1c3f4e-7a39-4bd4-9c55-0a1d8a4f2e11"
    assert refusal(token_for(**{jws.CLAIM_ORG: other_org})).code == Code.UNKNOWN_DATASOURCE
    assert refusal(token_for(**{jws.CLAIM_ORG: "not-a-uuid"})).code == Code.MALFORMED


def test_a_deleted_data_source_is_unknown(ds, token_for):
    DataSource.objects.filter(pk=ds.pk).update(deleted_at=timezone.now())
    assert refusal(token_for()).code == Code.UNKNOWN_DATASOURCE


def test_a_stale_nonce_is_refused(ds, token_for):
    assert refusal(token_for(jti="a-nonce-never-sent")).code == Code.STALE_NONCE


def test_the_previous_nonce_is_accepted_while_its_token_lives(ds, token_for):
    later = timezone.now() + dt.timedelta(minutes=10)
    DataSource.objects.filter(pk=ds.pk).update(
        previous_nonce="previous-nonce", previous_token_expires_at=later
    )
    assert jws_verify(token_for(jti="previous-nonce")).nonce == "previous"


def test_the_previous_nonce_is_refused_once_its_token_has_expired(ds, token_for):
    earlier = timezone.now() - dt.timedelta(minutes=10)
    DataSource.objects.filter(pk=ds.pk).update(
        previous_nonce="previous-nonce", previous_token_expires_at=earlier
    )
    assert refusal(token_for(jti="previous-nonce")).code == Code.STALE_NONCE


def test_the_pending_nonce_is_accepted(ds, token_for):
    # Webex accepted the rotation but the portal has not stored the answer yet.
    DataSource.objects.filter(pk=ds.pk).update(pending_nonce="pending-nonce")
    assert jws_verify(token_for(jti="pending-nonce")).nonce == "pending"


def test_a_disabled_data_source_is_refused(ds, token_for):
    disabled = datasource_disable(ds=ds, message="maintenance", actor=SYSTEM)
    assert refusal(token_for(jti=disabled.nonce)).code == Code.DATASOURCE_DISABLED


@pytest.mark.parametrize(
    "status, code",
    [
        (CustomerOrg.Status.OFFBOARDED, Code.ORG_OFFBOARDED),
        (CustomerOrg.Status.OFFBOARDING, Code.ORG_OFFBOARDED),
        (CustomerOrg.Status.DEAUTHORIZED, Code.ORG_DEAUTHORIZED),
    ],
)
def test_an_offboarded_or_deauthorized_org_is_refused(ds, token_for, status, code):
    CustomerOrg.objects.filter(pk=ds.org_id).update(status=status)
    assert refusal(token_for()).code == code


def test_refusals_never_carry_the_token(ds, token_for):
    token = token_for(aud="someone-else")
    found = refusal(token)
    for part in token.split("."):
        assert part not in found.message and part not in str(found)


# ------------------------------------------------------------------------------ caches


def test_a_warm_data_source_cache_still_accepts_a_rotated_nonce(ds, token_for):
    jws_verify(token_for())  # the lookup is cached now
    DataSource.objects.filter(pk=ds.pk).update(
        nonce="rotated-nonce",
        previous_nonce=ds.nonce,
        previous_token_expires_at=timezone.now() + dt.timedelta(minutes=5),
    )
    assert jws_verify(token_for(jti="rotated-nonce")).nonce == "current"
    assert jws_verify(token_for()).nonce == "previous"


def test_the_data_source_cache_is_used_within_its_lifetime(ds, token_for, settings):
    jws_verify(token_for())
    # A change that refuses tokens shows after the cache lifetime, not at once (documented).
    DataSource.objects.filter(pk=ds.pk).update(audience="changed")
    assert jws_verify(token_for()).nonce == "current"
    settings.JWS_DATASOURCE_CACHE_SECONDS = 0
    assert refusal(token_for()).code == Code.AUDIENCE_MISMATCH


def test_keys_unavailable_when_the_issuer_fails_and_nothing_is_cached(ds, token_for, local):
    local.failing = True
    found = refusal(token_for())
    assert found.code == Code.KEYS_UNAVAILABLE
    assert local.issuer in found.message


def test_stale_keys_are_kept_when_a_refetch_fails(ds, token_for, local, settings):
    settings.JWS_JWKS_CACHE_SECONDS = 0  # every set is stale at once: each call refetches
    settings.JWS_JWKS_REFETCH_INTERVAL_SECONDS = 0
    jws_verify(token_for())
    local.failing = True
    assert jws_verify(token_for()).nonce == "current"
    assert local.hits == 2


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_jwks_cache_lifetime_rate_limit_and_failures():
    clock = FakeClock()
    calls = []
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    answers = [{"a": key}, JwksFetchError("down"), {"a": key, "b": key}]

    def fetch(issuer):
        calls.append(issuer)
        answer = answers[min(len(calls) - 1, len(answers) - 1)]
        if isinstance(answer, Exception):
            raise answer
        return answer

    cache = JwksCache(fetch, clock=clock)
    limits = dict(lifetime=3600, refetch_interval=10)
    assert cache.key("iss", "a", **limits) is key
    assert cache.key("iss", "a", **limits) is key
    assert len(calls) == 1
    # Unknown kid inside the interval: no fetch.
    with pytest.raises(Refusal) as excinfo:
        cache.key("iss", "b", **limits)
    assert excinfo.value.code == Code.UNKNOWN_KEY and len(calls) == 1
    # After the interval: one refetch, which fails; the known key still works.
    clock.now += 11
    with pytest.raises(Refusal):
        cache.key("iss", "b", **limits)
    assert len(calls) == 2
    assert cache.key("iss", "a", **limits) is key
    # The next interval: the refetch succeeds and finds "b".
    clock.now += 11
    assert cache.key("iss", "b", **limits) is key
    assert len(calls) == 3
    # The lifetime ends: refetched once more.
    clock.now += 3601
    assert cache.key("iss", "a", **limits) is key
    assert len(calls) == 4


# ------------------------------------------------------------------------------ the API answer


def test_api_answer_accepted(ds, token_for):
    token = token_for()
    status, body = jws_verify_for_api(f"Bearer {token}")
    assert status == 200
    assert body["valid"] is True
    assert body["dataSource"] == {"id": str(ds.public_id), "url": ds.url, "schemaId": ds.schema_id}
    assert body["org"]["id"] == str(ds.org.public_id)
    assert body["nonce"] == "current"
    assert body["claims"]["jti"] == ds.nonce
    assert token not in json.dumps(body)


def test_api_answer_refused(ds, token_for):
    status, body = jws_verify_for_api(token_for(aud="someone-else"))
    assert (status, body["valid"], body["code"]) == (200, False, "audience_mismatch")
    assert body["message"]


@pytest.mark.parametrize("token", [None, "", "   ", 42])
def test_api_answer_names_the_missing_field(token):
    status, body = jws_verify_for_api(token)
    assert (status, body["code"], body["field"]) == (400, "malformed", "token")


def test_api_answer_keys_unavailable_is_retryable(ds, token_for, local):
    local.failing = True
    status, body = jws_verify_for_api(token_for())
    assert (status, body["code"]) == (503, "keys_unavailable")
    assert body["retryAfter"] >= 1


# ------------------------------------------------------------------------------ the command


def test_command_prints_the_decision_without_the_token(ds, token_for):
    token = token_for()
    out = io.StringIO()
    call_command("verify_jws", token, stdout=out)
    printed = json.loads(out.getvalue())
    assert printed["valid"] is True
    assert printed["dataSource"]["id"] == str(ds.public_id)
    assert token not in out.getvalue()


def test_command_reads_the_token_from_stdin(ds, token_for, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(f"Bearer {token_for()}\n"))
    out = io.StringIO()
    call_command("verify_jws", "-", stdout=out)
    assert json.loads(out.getvalue())["valid"] is True


def test_command_exits_non_zero_with_the_refusal_code(ds, token_for):
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(SystemExit) as excinfo:
        call_command("verify_jws", token_for(jti="old"), stdout=out, stderr=err)
    assert excinfo.value.code != 0
    assert json.loads(out.getvalue())["code"] == "stale_nonce"
    assert "stale_nonce" in err.getvalue()
