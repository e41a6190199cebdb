"""The one domain rule, without a database."""

import pytest
from django.core.exceptions import ValidationError

from core.domains import approved_domains, host_in_domains, normalize_host


@pytest.mark.parametrize(
    ("typed", "normal"),
    [
        ("byods.example.com", "byods.example.com"),
        ("BYODS.Example.COM.", "byods.example.com"),
        ("bücher.example.de", "xn--bcher-kva.example.de"),
        ("  voice.example.com ", "voice.example.com"),
    ],
)
def test_it_keeps_an_approved_domain_in_its_normal_form(typed, normal):
    assert approved_domains([typed]) == [normal]


@pytest.mark.parametrize(
    ("typed", "why"),
    [
        ("*.example.com", "wildcards are not allowed"),
        ("https://example.com", "give the name only: no scheme, path or port"),
        ("example.com/path", "give the name only: no scheme, path or port"),
        ("example.com:443", "give the name only: no scheme, path or port"),
        ("10.0.0.1", "an IP address is not a domain"),
        ("localhost", "not a domain name"),
        ("exa mple.com", "not a domain name"),
        ("-bad.example.com", "not a domain name"),
        ("example.123", "not a domain name"),
    ],
)
def test_it_rejects_what_is_not_a_plain_domain_naming_the_field_and_the_rule(typed, why):
    with pytest.raises(ValidationError) as err:
        approved_domains(["ok.example.com", typed])
    [message] = err.value.message_dict["valid_domains"]
    assert f"{typed} ({why})" in message


def test_it_needs_at_least_one_domain_and_drops_repeats():
    with pytest.raises(ValidationError) as err:
        approved_domains(["", "  "])
    assert err.value.message_dict == {"valid_domains": ["List at least one approved domain."]}
    assert approved_domains(["a.example.com", "A.example.com."]) == ["a.example.com"]


@pytest.mark.parametrize(
    ("host", "inside"),
    [
        ("cisco.com", True),
        ("a.cisco.com", True),
        ("a.b.cisco.com", True),
        ("evilcisco.com", False),
        ("cisco.com.evil.io", False),
    ],
)
def test_a_host_is_inside_the_domain_or_a_subdomain_label_by_label(host, inside):
    assert host_in_domains(normalize_host(host), ["Cisco.com."]) is inside
