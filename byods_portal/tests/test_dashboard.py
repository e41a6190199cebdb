"""The landing page: what each persona sees on it, with and without data."""

import datetime as dt

import pytest
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from alerts.models import Alert, Kind
from byods_portal.tests.bulk import build
from conftest import PERSONAS
from datasources.models import DataSource
from stats.counters import record_rotation_outcome

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("persona", PERSONAS)
def test_the_empty_dashboard_says_what_to_do(client_for, persona):
    response = client_for(persona).get(reverse("dashboard"))
    if persona == "anonymous":
        assert response.status_code == 302
        return
    if persona == "norole":
        assert response.status_code == 403
        return
    html = response.content.decode()
    assert "No open alerts" in html
    assert "No customer orgs yet" in html and "No data sources yet" in html
    assert html.count("No data in this period") == 2  # both charts, still with axes
    assert "Token expiries over the next 24 hours" in html


@pytest.mark.parametrize("persona", ["operator", "onboarding", "auditor"])
def test_health_deadlines_alerts_and_charts(client_for, persona):
    build(orgs=10)
    soonest = (
        DataSource.objects.filter(org__status="active", status="active")
        .order_by("token_expires_at")
        .first()
    )
    DataSource.objects.filter(pk=soonest.pk).update(
        token_expires_at=timezone.now() + dt.timedelta(hours=3, minutes=12, seconds=30)
    )
    with transaction.atomic():
        record_rotation_outcome(outcome="rotated")
        record_rotation_outcome(outcome="failed")
    html = client_for(persona).get(reverse("dashboard")).content.decode()
    assert f'href="{reverse("datasources:list")}?health=at_risk"' in html
    assert f'href="{reverse("datasources:list")}?health=expired"' in html
    assert f"{soonest.org.name} – {soonest.url}" in html
    assert "data stops flowing in 3 h 12 min" in html and " UTC</time>" in html
    assert "must reauthorize the Service App" in html  # an open alert from bulk data
    assert ("Acknowledge</button>" in html) == (persona != "auditor")
    assert "1 rotations succeeded and 1 failed" in html
    assert html.count("No data in this period") == 0


def test_acknowledged_alerts_show_who(operator_client):
    build(orgs=10)
    alert = Alert.objects.filter(kind=Kind.ORG_REAUTHORIZATION).first()
    operator_client.post(reverse("alerts:acknowledge", args=[alert.public_id]))
    html = operator_client.get(reverse("dashboard")).content.decode()
    assert "by operator@example.com" in html


def test_needs_attention_puts_a_lapsed_jws_before_a_reauthorization_due_later(operator_client):
    """Issue 16: the red box showed a reauthorization due in days while a feed had lapsed."""
    import re

    import time_machine

    build(orgs=10)  # Org 000009's first data source expires in 36 min; Org 000002 must
    # reauthorize, its access token good for 3 h.
    lapsed = DataSource.objects.get(url="https://rx.byods.example.com/9/0")
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=50), tick=False):
        html = operator_client.get(reverse("dashboard")).content.decode()
    items = re.findall(
        r'attention-item" role="alert" data-kind="(\w+)">\s*<a class="alert-link" href="([^"]+)"',
        html,
    )
    assert items[0] == ("jws_lapsed", reverse("datasources:detail", args=[lapsed.public_id]))
    kinds = [kind for kind, _ in items]
    assert "org_reauthorization" in kinds and kinds.index("org_reauthorization") > 0
    assert re.search(r"the JWS lapsed: data stopped flowing 1[34] min ago", html)
    # Soonest deadlines: the lapsed feed at the top, in red.
    deadlines = html[html.index('id="deadlines-heading"') :]
    first = deadlines[deadlines.index("<li") : deadlines.index("</li>")]
    assert "deadline-lapsed" in first and "text-danger" in first
    assert lapsed.url in first and re.search(r"lapsed 1[34] min ago", first)
    # The counts link to the lists they count.
    datasources = reverse("datasources:list")
    assert f'href="{datasources}?health=expired">1 lapsed JWS</a>' in html
    reauthorize = f"{reverse('tenants:org_list')}?status=reauthorization_required"
    assert f'href="{reauthorize}">1 org to reauthorize</a>' in html


def test_nothing_needs_attention_says_so(operator_client):
    html = operator_client.get(reverse("dashboard")).content.decode()
    assert "Nothing needs attention" in html
