"""Verify the JWS that Webex presents to a data source URL (issue 9).

When Webex opens a connection to a data source it presents the JWS the data source was last
given (README of webex/, "The JWS that Webex presents"). A receiver must accept it only if it
is genuine (signed by an allow-listed Webex issuer), current (unexpired, and carrying the data
source's current nonce, or the previous one while that older token lives) and for exactly that
data source. `jws_verify(token)` decides, and returns a `Verified` or raises `Refusal` with one
of the stable machine-readable codes in `Code`.

The checks, in order (a cheaper or more fundamental check always comes first, and no key is
fetched for a token whose issuer is not allowed):
 1. shape: three base64url segments, JSON header and claims                -> malformed
 2. header `alg` is RS256 (`none`, HS256, ... are refused unverified)     -> algorithm_not_allowed
 3. `iss` on the allow-list (settings.JWS_ISSUERS, plus the emulator's
    identity broker when settings.JWS_ALLOW_EMULATOR)                     -> issuer_not_allowed
 4. the issuer's key for the header's `kid` (JWKS cache, below)           -> unknown_key,
                                                                              keys_unavailable
 5. the RS256 signature over the raw segments                             -> bad_signature
 6. `exp`, `iat` (and `nbf` if present) with JWS_LEEWAY_SECONDS           -> expired,
                                                                              not_yet_valid
 7. `aud`, `sub`, `jti` and the three com.cisco claims are present        -> missing_claim
 8. the data source by org, URL and schema, compared exactly (so
    `https://h` is not `https://h:443` and `/feed` is not `/feed/`)        -> unknown_datasource
 9. `aud` and `sub` equal the registered ones                             -> audience_mismatch,
                                                                              subject_mismatch
10. the data source is enabled and its org not deauthorized/offboarded    -> datasource_disabled,
                                                                              org_deauthorized,
                                                                              org_offboarded
11. `jti` is the current nonce, the pending one (Webex signed it but the
    portal has not recorded the answer yet: we chose that nonce for this
    data source, so the token is as genuine as a current one), or the
    previous one while its token has not expired                          -> stale_nonce

Verification is a read: it writes no audit rows (a receiver may verify thousands of tokens a
second, and nothing changes state); `jws_counters()` counts outcomes per code instead. The token
itself is never logged, stored, or put in a refusal message.
"""

from .candidates import datasource_cache
from .codes import CLAIM_ORG, CLAIM_SCHEMA, CLAIM_URL, Code, Refusal, Verified
from .keys import JwksCache, allowed_issuers, jwks_cache
from .verify import jws_caches_clear, jws_counters, jws_verify, jws_verify_for_api

__all__ = [
    "CLAIM_ORG",
    "CLAIM_SCHEMA",
    "CLAIM_URL",
    "Code",
    "JwksCache",
    "Refusal",
    "Verified",
    "allowed_issuers",
    "datasource_cache",
    "jwks_cache",
    "jws_caches_clear",
    "jws_counters",
    "jws_verify",
    "jws_verify_for_api",
]
