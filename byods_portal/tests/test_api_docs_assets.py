"""The API documentation pages (Swagger UI, ReDoc) load only the portal's own files: no CDN, no
web fonts, nothing from another host; every static asset they name exists."""

import re

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders

from conftest import PERSONAS

pytestmark = pytest.mark.django_db
PAGES = ("/api/docs/", "/api/redoc/")
READERS = {"operator", "onboarding", "auditor"}
# A URL with a host: `//host`, `http://host`, `https://host`, where an attribute, CSS or JS
# string starts one (not a `// comment` in inline JS, which has a space after the slashes).
HOST = re.compile(r"""(?:https?:)?//([^/\s"'()<>]+)""")
REFERENCE = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""")


def hosts(html: str) -> set[str]:
    return {m[1].split(":")[0].lower() for m in HOST.finditer(html)}


def test_the_host_finder_sees_what_it_must():
    html = (
        '<link href="https://fonts.googleapis.com/css2?x"><script src="//cdn.example.net/a.js">'
        "</script><style>@import url(http://evil.example:8080/x.css)</style>"
        "<script>// only retry once\n</script>"
    )
    assert hosts(html) == {"fonts.googleapis.com", "cdn.example.net", "evil.example"}


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("persona", PERSONAS)
def test_the_docs_load_nothing_from_elsewhere(client_for, persona, page):
    client = client_for(persona)
    response = client.get(page)
    if persona == "anonymous":
        assert response.status_code == 302 and response.url.startswith("/login/")
        return
    if persona not in READERS:
        assert response.status_code == 403
        return
    assert response.status_code == 200
    html = response.content.decode()
    assert hosts(html) <= {"testserver"}, f"{page} loads from {hosts(html) - {'testserver'}}"
    references = REFERENCE.findall(html)
    if page == "/api/docs/":
        # Swagger UI's start-up script is the page itself with `?script` (no inline code, CSP).
        assert f"{page}?script=" in references
        references.remove(f"{page}?script=")
    static = [r for r in references if r.startswith("/" + settings.STATIC_URL.lstrip("/"))]
    assert static, f"{page} names no static asset: the page did not render as expected"
    assert len(static) == len(references), f"{page} names non-static files: {references}"
    prefix = "/" + settings.STATIC_URL.lstrip("/")
    for url in static:
        path = url.removeprefix(prefix).split("?")[0]
        assert finders.find(path), f"{page} names {url}, which no static finder has"
    if page == "/api/docs/":
        # Swagger UI's validator badge would send the schema's URL to validator.swagger.io.
        script = client.get(f"{page}?script=")
        assert script["Content-Type"].startswith("application/javascript")
        assert '"validatorUrl": null' in script.content.decode()
