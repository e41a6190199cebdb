"""Hostile input: script tags in every text field, CSRF on every form, look-alike and
invisible characters in data source URLs, header injection, oversized bodies."""

import uuid

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from accounts.tests.helpers import verified_login
from datasources.validation import check_url

from .conftest import build_world, portal_routes
from .forms_on_pages import post_forms
from .test_permission_matrix import RULES

DOMAINS = ["byods.example.com"]
SCRIPT = '<script>alert("x")</script>'
ESCAPED = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"


# Forms reached only with a query: the bulk preview's confirm step, with the disable message.
EXTRA_PAGES = ("/bulk/preview/?kind=disable&target=datasource&ids={ds}",)
# The merged apps' forms, which both checks below must have reached.
NEW_FORMS = (
    "/orgs/onboard/wizard/",
    "/onboarding/tokens/",
    "/onboarding/data-source/",
    "/staff/api-keys/new/",
    "/revoke/",
    "/alerts/channels/",
    "/alerts/incident/",
    "/bulk/start/",
)


def get_pages(client, world):
    """(path, html) of every GET page the client may open."""
    paths = [
        world.path(name, route)
        for name, route in portal_routes()
        if name not in {"audit:export", "healthz"} and not name.startswith("api:")
    ]
    paths += [p.format(ds=world.datasource.public_id) for p in EXTRA_PAGES]
    for path in paths:
        response = client.get(path)
        if response.status_code == 200 and response["Content-Type"].startswith("text/html"):
            yield path, response.content.decode()


def assert_no_raw_script(client, world):
    shown = 0
    for path, html in get_pages(client, world):
        assert SCRIPT not in html, f"{path} shows a script tag unescaped"
        shown += ESCAPED in html
    return shown


@pytest.mark.django_db
def test_script_tags_in_every_text_field_are_escaped_everywhere(
    settings, webex_world, operator_client, auditor_client
):
    world = build_world(webex_world, settings)
    # Destructive forms last, so the others still have their objects.
    pages = sorted(
        get_pages(operator_client, world), key=lambda p: ("delete" in p[0], "offboard" in p[0])
    )
    posted = 0
    for path, html in pages:
        for form in post_forms(html, path):
            if not form.text_fields or form.action.startswith("/logout"):
                continue
            # 1. Every text field at once: the form comes back with errors, escaped.
            data = dict(form.values) | {f: SCRIPT for f in form.text_fields}
            response = operator_client.post(form.action, data)
            assert response.status_code < 500, (form.action, response.status_code)
            assert SCRIPT not in response.content.decode(), form.action
            # 2. One field at a time, the others as the page filled them: values get stored.
            for name in form.text_fields:
                if "token" in name or "secret" in name or "confirm" in name:
                    continue
                data = dict(form.values) | {name: f"{form.values.get(name, '')}{SCRIPT}"}
                response = operator_client.post(form.action, data, follow=True)
                assert response.status_code < 500, (form.action, name)
                assert SCRIPT not in response.content.decode(), (form.action, name)
                posted += 1
    assert posted >= 10
    actions = {form.action for path, html in pages for form in post_forms(html, path)}
    missing = [f for f in NEW_FORMS if not any(f in action for action in actions)]
    assert not missing, f"forms not reached: {missing}"
    # Stored values are shown, escaped, on the pages that list them (and in the audit trail).
    assert assert_no_raw_script(operator_client, world) > 0
    assert_no_raw_script(auditor_client, world)


@pytest.mark.django_db
def test_every_post_form_carries_a_csrf_token(settings, webex_world, operator_client):
    world = build_world(webex_world, settings)
    forms = [f for p, html in get_pages(operator_client, world) for f in post_forms(html, p)]
    assert len(forms) >= 5
    missing = [f for f in NEW_FORMS if not any(f in form.action for form in forms)]
    assert not missing, f"forms not reached: {missing}"
    assert all(f.has_csrf_token for f in forms), [f.action for f in forms if not f.has_csrf_token]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "name", sorted(n for n, r in RULES.items() if r.post and "operator" in r.post)
)
def test_every_post_is_refused_without_the_csrf_token(client_for, name):
    from audit.models import AuditEvent

    route = dict(portal_routes())[name]
    path = "/" + route
    while "<" in path:
        start, end = path.index("<"), path.index(">")
        path = path[:start] + str(uuid.uuid4()) + path[end + 1 :]
    user = getattr(client_for("operator"), "user", None)
    client = Client(enforce_csrf_checks=True)
    if name != "login":
        verified_login(client, user)
    before = AuditEvent.objects.count()
    response = client.post(path, {"username": "operator@example.com", "password": "x"})
    assert response.status_code == 403, (name, response.status_code)
    assert b"CSRF" in response.content
    assert AuditEvent.objects.count() == before


@pytest.mark.parametrize(
    "url",
    [
        "https://rx.byods.example.com.evil.io/feed",  # the domain as a prefix
        "https://evilbyods.example.com/feed",  # the domain as a suffix without a dot
        "https://rx.byods-example.com/feed",  # a hyphen for a dot
        "https://byods.example.com@evil.io/feed",  # user-info trick
        "https://byods.example.com\\@evil.io/feed",  # backslash user-info trick
        "https://evil.io#.byods.example.com",  # fragment trick
        "https://evil.io/?.byods.example.com",  # query trick
        "https://rx.byоds.example.com/feed",  # Cyrillic o (homoglyph)
        "https://rx.xn--byds-9vd.example.com/feed",  # the same homoglyph as punycode
        "https://rx.byods\u200b.example.com/feed",  # zero-width space
        "https://rx.byods.exam\u200dple.com/feed",  # zero-width joiner
        "https://rx.byods\uff0eexample\uff0ecom/feed",  # full-width dots
        "https://rx.ｂyods.example.com/feed",  # full-width letter
        "https://rx.byods.example.com/\u202emoc.live",  # right-to-left override
        "https://rx.byods.example.com\u202e/feed",
        "https://rx.byods.example.com/feed\r\nX-Injected: 1",  # header injection
        "https://rx.byods.example.com/\ufefffeed",  # byte-order mark
        "https://127.0.0.1/feed",
        "http://rx.byods.example.com/feed",
    ],
)
def test_it_rejects_look_alike_and_invisible_urls(url):
    with pytest.raises(ValidationError) as caught:
        check_url(url, DOMAINS)
    assert "url" in caught.value.message_dict


@pytest.mark.parametrize(
    "url",
    ["https://rx.byods.example.com/feed", "https://RX.byods.example.com./feed?a=1"],
)
def test_it_accepts_urls_inside_the_domains(url):
    assert check_url(url, DOMAINS)


@pytest.mark.django_db
def test_a_look_alike_url_in_the_form_names_the_field_and_reaches_no_one(
    settings, webex_world, operator_client
):
    world = build_world(webex_world, settings, drift=False)
    before = len(webex_world.control.state()["dataSources"])
    response = operator_client.post(
        f"/orgs/{world.org.public_id}/datasources/new/",
        {
            "schema_id": "5397013b-7920-4ffc-807c-e8a3e0a18f43",
            "url": "https://rx.byods\u200b.example.com/feed",
            "audience": "a",
            "subject": "s",
            "token_lifetime_minutes": "60",
        },
    )
    assert response.status_code == 200
    assert "invisible" in response.content.decode()
    assert len(webex_world.control.state()["dataSources"]) == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/",
        "/\r\nSet-Cookie: pwned=1",
        "/%0d%0aSet-Cookie:%20pwned=1",
        "\\\\evil.example",
    ],
)
def test_sign_in_never_redirects_off_site_or_splits_headers(client, django_user_model, target):
    django_user_model.objects.create_user(username="u@example.com", password="a-long-pass-1")
    response = client.post(
        "/login/?next=" + target, {"username": "u@example.com", "password": "a-long-pass-1"}
    )
    assert response.status_code == 302
    location = response["Location"]
    assert location.startswith("/") and not location.startswith(("//", "/\\"))
    assert "\r" not in location and "\n" not in location
    assert "pwned" not in str(response.cookies)


@pytest.mark.django_db
def test_alert_actions_ignore_a_hostile_next(world, operator_client):
    """(Data sources' rotate-selected, which this once checked, became a bulk action.)"""
    path = f"/alerts/{world.alert.public_id}/acknowledge/"
    for target in ("https://evil.example/", "//evil.example/", "/alerts/\r\nSet-Cookie: pwned=1"):
        response = operator_client.post(path, {"next": target})
        assert response.status_code == 302
        location = response["Location"]
        assert location.startswith("/alerts/") and not location.startswith("//"), location
        assert "\r" not in location and "\n" not in location
        assert "pwned" not in str(response.cookies)


@pytest.mark.django_db
def test_oversized_bodies_are_refused_not_crashed(operator_client, client, settings):
    big = "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1024)
    response = operator_client.post("/orgs/onboard/", {"name": big})
    assert response.status_code in (400, 413)
    response = client.post("/webhooks/webex/", big, content_type="application/json")
    assert response.status_code in (400, 413)
    many = {f"f{n}": "1" for n in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 10)}
    assert operator_client.post("/orgs/onboard/", many).status_code in (400, 413)


@pytest.mark.django_db
def test_an_overlong_name_gets_a_field_error(operator_client):
    response = operator_client.post("/orgs/onboard/", {"name": "n" * 5000})
    assert response.status_code == 200
    assert "at most 200 characters" in response.content.decode()
