import pytest
from django.core.exceptions import ValidationError

from datasources.validation import validate_datasource

SCHEMA = "5397013b-7920-4ffc-807c-e8a3e0a18f43"
DOMAINS = ["cisco.com", "byods.example.com"]


def validate(**overrides):
    fields = dict(
        schema_id=SCHEMA,
        url="https://rx.byods.example.com/grpc",
        audience="rx",
        subject="feed",
        token_lifetime_minutes=60,
        allowed_schema_ids=[SCHEMA],
        allowed_domains=DOMAINS,
    )
    return validate_datasource(**(fields | overrides))


def errors_of(**overrides) -> dict:
    with pytest.raises(ValidationError) as err:
        validate(**overrides)
    return {k: v[0] for k, v in err.value.message_dict.items()}


@pytest.mark.parametrize(
    ("url", "sent"),
    [
        ("https://cisco.com/x", "https://cisco.com/x"),
        ("https://www.cisco.com/x", "https://www.cisco.com/x"),
        ("https://a.b.cisco.com/", "https://a.b.cisco.com/"),
        ("https://cisco.com:8443/path?q=1", "https://cisco.com:8443/path?q=1"),
        # The host as Webex reads it: lower case, no trailing dot, punycode.
        ("https://CISCO.com./x", "https://cisco.com/x"),
        ("https://bücher.cisco.com/Ä", "https://xn--bcher-kva.cisco.com/Ä"),
        ("https://byods.example.com", "https://byods.example.com"),
    ],
)
def test_it_accepts_the_domain_and_its_subdomains_with_any_port(url, sent):
    assert validate(url=url).url == sent


@pytest.mark.parametrize(
    ("url", "rule"),
    [
        ("https://cisco.com.evil.io/x", "not one of this org's authorized domains"),
        ("https://evilcisco.com/x", "not one of this org's authorized domains"),
        ("https://cisco.com@evil.io/x", "no “user@” part"),
        ("https://user:pw@www.cisco.com/x", "no “user@” part"),
        ("https://evil.io#@cisco.com", "#fragment"),
        ("https://*.cisco.com/x", "Wildcards"),
        ("https://10.0.0.1/x", "not an IP address"),
        ("https://[::1]/x", "not an IP address"),
        ("http://www.cisco.com/x", "must start with https://"),
        ("wss://www.cisco.com/x", "must start with https://"),
        ("https://www.cisco.com /x", "spaces"),
        ("https://www.cisco.com/\r\nX-Injected: 1", "control characters"),
        ("https://xn--ciso-xxx.com/", "authorized domains"),
        ("https://cisсo.com/x", "authorized domains"),  # Cyrillic "с": a look-alike host
        ("", "Enter the data source URL."),
        ("https://cisco.com:99999/x", "port must be a number from 1 to 65535"),
        ("https://cisco.com:0/x", "port must be a number from 1 to 65535"),
        ("https://cisco.com../x", "not a valid host name"),
        ("https://cisco.com/a\\b", "must not contain backslashes"),
    ],
)
def test_it_rejects_url_outside_domains_and_tricks(url, rule):
    message = errors_of(url=url)["url"]
    assert rule in message


def test_it_rejects_an_unauthorized_schema():
    assert (
        "not among those the org authorized"
        in errors_of(schema_id="1b2b7077-dbcd-4732-b2f9-296f9168168a")["schema_id"]
    )


@pytest.mark.parametrize("lifetime", [0, 1441, -5, "abc", "1.5", True, None, 60.5])
def test_it_rejects_a_lifetime_outside_1_to_1440(lifetime):
    assert "token_lifetime_minutes" in errors_of(token_lifetime_minutes=lifetime)


@pytest.mark.parametrize("lifetime", [1, 1440, "30"])
def test_it_accepts_lifetimes_inside_the_range(lifetime):
    assert validate(token_lifetime_minutes=lifetime).token_lifetime_minutes == int(lifetime)


@pytest.mark.parametrize(
    ("field", "value"),
    [("audience", ""), ("subject", "  "), ("audience", "x" * 201), ("subject", "a\x00b")],
)
def test_audience_and_subject_are_checked(field, value):
    assert field in errors_of(**{field: value})


def test_all_errors_are_reported_at_once():
    errors = errors_of(schema_id="", url="http://x", audience="", token_lifetime_minutes=0)
    assert set(errors) == {"schema_id", "url", "audience", "token_lifetime_minutes"}
