"""JWS verification throughput through `datasources.jws.jws_verify` versus plain PyJWT
decoding of the same tokens with the key in hand (target: ratio >= 0.7).

Builds a scratch PostgreSQL database with 200 data sources across 20 orgs, serves a JWKS for
a fresh RSA key from a loopback issuer (real HTTP), signs 2,000 tokens (10 per data source,
the current nonce, each with its own `iat`) and, after one warm-up pass that fills the key and
data source caches, times alternating passes of:
- the library: `jws_verify(token)` - allow-list, key by kid, signature, claims, data source
  by (org, url, schema), nonce - with the default cache settings;
- plain PyJWT: `jwt.decode(token, key, algorithms=["RS256"], audience=aud)`.
The figure is the median of the per-round ratios (the machine is shared; medians resist noise).
"""

import datetime as dt
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._scratch import production_like_env, scratch_database  # noqa: E402

DB = "byods_bench_jws"
ORGS, PER_ORG, TOKENS_PER_SOURCE, ROUNDS = 20, 10, 10, 7


os.environ.update(production_like_env(scratch_database(DB)))

import django  # noqa: E402

django.setup()

import jwt  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.utils import timezone  # noqa: E402

from datasources import jws  # noqa: E402
from datasources.models import DataSource  # noqa: E402
from datasources.tests.jws_support import LocalIssuer, claims_for, sign  # noqa: E402
from tenants.models import CustomerOrg, ServiceApp  # noqa: E402


def build_sources() -> list[DataSource]:
    app = ServiceApp.objects.create(name="B", client_id="C-bench", client_secret="x")  # noqa: S106 - a dummy
    now = timezone.now()
    rows = []
    for o in range(ORGS):
        org = CustomerOrg.objects.create(
            service_app=app, webex_org_id=uuid.uuid4(), name=f"Org {o}", status="active"
        )
        for i in range(PER_ORG):
            rows.append(
                DataSource(
                    org=org,
                    webex_id=str(uuid.uuid4()),
                    schema_id="5397013b-7920-4ffc-807c-e8a3e0a18f43",
                    url=f"https://rx{i}.org{o}.byods.example.com/feed",
                    audience=f"aud-{o}-{i}",
                    subject=f"sub-{o}-{i}",
                    token_lifetime_minutes=60,
                    nonce=uuid.uuid4().hex,
                    token_expires_at=now + dt.timedelta(hours=1),
                )
            )
    DataSource.objects.bulk_create(rows)
    return list(DataSource.objects.select_related("org"))


def timed(fn, tokens) -> float:
    started = time.perf_counter()
    for token in tokens:
        fn(token)
    return time.perf_counter() - started


def main() -> None:
    call_command("migrate", verbosity=0)
    sources = build_sources()
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    issuer = LocalIssuer({"bench-kid": key})
    settings.JWS_ISSUERS = [issuer.issuer]
    now = int(time.time())
    tokens, audiences = [], {}
    for n in range(TOKENS_PER_SOURCE):
        for ds in sources:
            token = sign(
                claims_for(ds, issuer.issuer, iat=now - n, exp=now + 3600), key, "bench-kid"
            )
            tokens.append(token)
            audiences[token] = ds.audience
    public_key = key.public_key()

    def plain(token: str) -> None:
        jwt.decode(token, public_key, algorithms=["RS256"], audience=audiences[token])

    jws.jws_caches_clear()
    for token in tokens:  # warm-up: fills the key and data source caches
        assert jws.jws_verify(token).nonce == "current"
    for token in tokens[:200]:
        plain(token)
    ratios = []
    for _ in range(ROUNDS):
        library = timed(jws.jws_verify, tokens)
        baseline = timed(plain, tokens)
        ratios.append(baseline / library)
        print(
            f"  round: library {len(tokens) / library:,.0f}/s, "
            f"plain PyJWT {len(tokens) / baseline:,.0f}/s",
            flush=True,
        )
    issuer.close()
    print(f"{len(tokens):,} tokens, {len(sources)} data sources, JWKS fetches: {issuer.hits}")
    print(f"jws verify throughput vs plain PyJWT: {statistics.median(ratios):.2f} (target >= 0.7)")


if __name__ == "__main__":
    main()
