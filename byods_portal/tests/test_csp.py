"""The Content-Security-Policy header (django-csp, CONTENT_SECURITY_POLICY in settings.py) on
pages, the API, the admin and error answers, and templates that need nothing looser.

The browser side (no violation on any page, ReDoc and Swagger UI included) is
byods_portal/tests/browser/test_csp.py.
"""

import re
from pathlib import Path

import pytest
from django.conf import settings

HEADER = "Content-Security-Policy"
EXPECTED = {
    "default-src": {"'self'"},
    "script-src": {"'self'"},
    "style-src": {"'self'"},
    "img-src": {"'self'", "data:"},
    "font-src": {"'self'"},
    "connect-src": {"'self'"},
    "object-src": {"'none'"},
    "base-uri": {"'self'"},
    "form-action": {"'self'"},
    "frame-ancestors": {"'none'"},
}


def policy(response) -> dict[str, set[str]]:
    value = response.get(HEADER)
    assert value, f"no {HEADER} header on {response.request['PATH_INFO']}"
    directives = {}
    for part in filter(None, (p.strip() for p in value.split(";"))):
        name, *sources = part.split()
        directives[name] = set(sources)
    return directives


@pytest.mark.django_db
@pytest.mark.parametrize(
    "persona,path,status",
    [
        ("anonymous", "/login/", 200),
        ("operator", "/", 200),
        ("operator", "/orgs/", 200),
        ("operator", "/api/v1/health/", 200),
        ("operator", "/api/v1/orgs/", 200),
        ("operator", "/api/v1/orgs/00000000-0000-0000-0000-000000000000/", 404),
        ("operator", "/api/docs/", 200),
        ("operator", "/api/docs/?script=", 200),
        ("operator", "/admin/", 200),
        ("operator", "/no-such-page/", 404),
        ("anonymous", "/healthz", 200),
    ],
)
def test_every_answer_carries_the_strict_policy(client_for, persona, path, status):
    response = client_for(persona).get(path)
    assert response.status_code == status
    assert policy(response) == EXPECTED


def test_the_policy_allows_nothing_inline_or_evaluated():
    header = " ".join(
        " ".join(map(str, v)) for v in settings.CONTENT_SECURITY_POLICY["DIRECTIVES"].values()
    )
    assert "unsafe-inline" not in header and "unsafe-eval" not in header
    assert "*" not in header and "http" not in header


@pytest.mark.django_db
def test_redoc_alone_gets_a_nonce_for_its_run_time_styles_and_a_blob_worker(client_for):
    client = client_for("operator")
    response = client.get("/api/redoc/")
    directives = policy(response)
    nonces = [s for s in directives["style-src"] if s.startswith("'nonce-")]
    assert len(nonces) == 1 and directives["style-src"] - set(nonces) == {"'self'"}
    nonce = nonces[0][len("'nonce-") : -1]
    html = response.content.decode()
    assert html.count(f'nonce="{nonce}"') == 2  # redoc-csp.js and redoc-init.js
    assert directives["script-src"] == {"'self'"}
    assert directives["worker-src"] == {"'self'", "blob:"}
    again = policy(client.get("/api/redoc/"))
    assert again["style-src"] != directives["style-src"]  # a new nonce per response


# What the policy refuses in markup: inline <script> (one without src), <style> blocks, style=
# attributes, on*= handlers and javascript: URLs.
INLINE = re.compile(
    r"<script(?![^>]*\bsrc=)[^>]*>|<style\b|\sstyle\s*=|\son[a-z]+\s*=|javascript:",
    re.IGNORECASE,
)


def _templates() -> list[Path]:
    base = Path(settings.BASE_DIR)
    found = list((base / "templates").rglob("*.html"))
    for app_dir in base.iterdir():
        if (app_dir / "templates").is_dir() and app_dir.name not in {".venv", "templates"}:
            found += list((app_dir / "templates").rglob("*.html"))
    return found


def _without_comments(text: str) -> str:
    text = re.sub(r"{%\s*comment\s*%}.*?{%\s*endcomment\s*%}", "", text, flags=re.DOTALL)
    return re.sub(r"{#.*?#}", "", text, flags=re.DOTALL)


def test_no_template_holds_inline_code_or_styles():
    templates = _templates()
    assert len(templates) > 20  # noqa: PLR2004 - the scan sees the portal's templates
    offenders = [
        f"{path.relative_to(settings.BASE_DIR)}: {match.group(0)!r}"
        for path in templates
        for match in INLINE.finditer(_without_comments(path.read_text()))
    ]
    assert offenders == []


def test_the_scan_catches_each_kind():
    for bad in (
        "<script>alert(1)</script>",
        "<style>p{}</style>",
        '<p style="color:red">',
        '<a onclick="x()">',
        '<a href="javascript:x()">',
    ):
        assert INLINE.search(bad), bad
    assert not INLINE.search('<script src="/static/x.js" defer></script>')
