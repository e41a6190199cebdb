"""The `{% when %}` tag: relative and absolute time, with the zone, in one <time> element."""

import datetime as dt

import pytest
from django.template import Context, Template
from django.utils import timezone

from core.templatetags.portal import relative

NOW = dt.datetime(2026, 11, 23, 10, 53, tzinfo=dt.UTC)


def render(moment, now=NOW):
    return Template("{% load portal %}{% when moment now=now %}").render(
        Context({"moment": moment, "now": now})
    )


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (dt.timedelta(hours=3, minutes=12), "in 3 h 12 min"),
        (-dt.timedelta(minutes=5), "5 min ago"),
        (dt.timedelta(days=2, hours=4, minutes=30), "in 2 d 4 h"),
        (-dt.timedelta(days=2, minutes=5), "2 d ago"),
        (dt.timedelta(seconds=20), "just now"),
    ],
)
def test_relative_uses_the_two_largest_units(delta, text):
    assert relative(NOW + delta, NOW) == text


def test_it_renders_relative_and_absolute_with_the_time_zone():
    html = render(NOW + dt.timedelta(hours=3, minutes=12))
    assert '<time datetime="2026-11-23T14:05:00+00:00" title="2026-11-23 14:05 UTC">' in html
    assert "in 3 h 12 min</time>" in html
    assert "· 2026-11-23 14:05 UTC" in html


def test_it_shows_the_portal_time_zone(settings):
    settings.TIME_ZONE = "Europe/Paris"
    with timezone.override("Europe/Paris"):
        html = render(NOW)
    assert "2026-11-23 11:53 CET" in html and "just now" in html


def test_a_missing_moment_renders_a_dash():
    assert render(None) == "—"


def test_it_escapes_nothing_it_should_not():
    html = render(NOW - dt.timedelta(days=1))
    assert "&lt;" not in html and "1 d ago" in html


def test_schemas_read_by_their_published_name_with_the_id_on_hover():
    html = Template("{% load portal %}{% schema s %}").render(
        Context({"s": "a38a10b7-43e4-4676-a076-a7d6dce9387d"})
    )
    assert html == (
        '<span title="a38a10b7-43e4-4676-a076-a7d6dce9387d">'
        "Web Socket Voice Virtual Agent Service</span>"
    )
    unknown = Template("{% load portal %}{{ s|schema_name }}").render(Context({"s": "x-<b>"}))
    assert unknown == "x-&lt;b&gt;"  # an unknown id stays itself, escaped


def test_an_authorizer_reads_as_a_webex_person():
    from webex.ids import encode

    person = "2c3d4e5f-0000-4000-8000-000000000001"
    rendered = Template("{% load portal %}{{ a|webex_person }}").render(
        Context({"a": encode("PEOPLE", person, "eu")})
    )
    assert rendered == f"Webex person {person} (eu)"
    assert Template("{% load portal %}{{ a|webex_person }}").render(Context({"a": "?!"})) == "?!"
