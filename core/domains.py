"""The one definition of a domain name the portal accepts, on both sides of Webex's rule
"the data source URL must be inside one of the Service App's approved domains":

- `approved_domains` checks what staff list as a Service App's approved domains (a plain DNS
  name: no wildcard, scheme, path, port or IP address), returning each in its normal form;
- `normalize_host` puts a host in the one form Webex compares (lower case, IDNA, without the
  trailing dot of the DNS root);
- `host_in_domains` is the rule itself: the domain or any subdomain, label by label.

tenants (Service Apps) and datasources (URLs) both use it; forms only present its messages.
"""

from __future__ import annotations

import ipaddress
import re

from django.core.exceptions import ValidationError

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_TLD = re.compile(r"^(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$")
MAX_NAME = 253


def normalize_host(host: str) -> str:
    """Lower-case, IDNA-encoded host without its trailing dot (one: the root of the DNS);
    ValueError if it is not a name."""
    host = host.removesuffix(".").lower()
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise ValueError("not a valid host name") from exc
    labels = ascii_host.split(".")
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        raise ValueError("not a valid host name")
    return ascii_host


def host_in_domains(host: str, domains: list[str]) -> bool:
    """Equal to an approved domain or a subdomain of one, label by label: `cisco.com` admits
    `a.cisco.com`, never `evilcisco.com` or `cisco.com.evil.io`."""
    for domain in domains:
        try:
            d = normalize_host(domain)
        except ValueError:
            continue
        if host == d or host.endswith("." + d):
            return True
    return False


def _domain(value: str) -> str:
    """One approved domain in normal form, or ValueError saying what is wrong with it."""
    value = value.strip()
    if "*" in value:
        raise ValueError("wildcards are not allowed")
    if "/" in value or ":" in value or "@" in value:
        raise ValueError("give the name only: no scheme, path or port")
    try:
        ipaddress.ip_address(value.strip("[]"))
    except ValueError:
        pass
    else:
        raise ValueError("an IP address is not a domain")
    try:
        name = normalize_host(value)
    except ValueError:
        raise ValueError("not a domain name") from None
    if len(name) > MAX_NAME or not _TLD.match(name.rsplit(".", 1)[-1]):
        raise ValueError("not a domain name")
    return name


def approved_domains(values: list[str], *, field: str = "valid_domains") -> list[str]:
    """A Service App's approved domains, each normalized and unique, or a ValidationError on
    `field` naming every bad entry and the rule it broke."""
    names, bad = [], []
    for value in (v for v in values if v.strip()):
        try:
            name = _domain(value)
        except ValueError as exc:
            bad.append(f"{value.strip()} ({exc})")
            continue
        if name not in names:
            names.append(name)
    if bad:
        raise ValidationError(
            {
                field: f"Not a domain name: {', '.join(bad)}. Wildcards, schemes, paths and IP "
                "addresses are not allowed."
            }
        )
    if not names:
        raise ValidationError({field: "List at least one approved domain."})
    return names
