"""Names people can read (issue 16): schemas by their published name (id on hover, id in the
API), one state badge per data source, audit actions as labels, the "When" column on one line,
the audit log filtered by org name with suggestions."""

import re

import pytest
from django.contrib.staticfiles import finders
from django.urls import reverse

from datasources.services import datasource_disable
from datasources.tests.conftest import SCHEMA
from tenants import services as tenant_services
from tenants.tests.conftest import SYSTEM

pytestmark = pytest.mark.django_db
NAME = "Voice Virtual Agent Service"


def test_the_register_form_offers_schemas_by_name_with_the_id_on_hover(operator_client, org):
    html = operator_client.get(reverse("datasources:register", args=[org.public_id])).content
    html = html.decode()
    option = re.search(rf'<option value="{SCHEMA}"([^>]*)>([^<]*)</option>', html)
    assert option and f'title="{SCHEMA}"' in option.group(1) and option.group(2) == NAME


@pytest.mark.parametrize("persona", ["operator", "onboarding", "auditor"])
def test_data_source_pages_name_the_schema_and_the_api_keeps_the_id(
    client_for, api_client_for, register, persona
):
    ds = register()
    client = client_for(persona)
    hover = f'<span title="{SCHEMA}">{NAME}</span>'
    assert hover in client.get(reverse("datasources:list")).content.decode()
    assert hover in client.get(reverse("datasources:detail", args=[ds.public_id])).content.decode()
    api = api_client_for(persona).get(reverse("api:datasource-detail", args=[ds.public_id]))
    assert api.json()["schema_id"] == SCHEMA


def test_a_disabled_data_source_has_one_badge(operator_client, register):
    ds = datasource_disable(ds=register(), message="Paused for maintenance", actor=SYSTEM)
    detail = operator_client.get(reverse("datasources:detail", args=[ds.public_id])).content
    heading = detail.decode().split("<h1", 1)[1].split("</h1>", 1)[0]
    assert heading.count('class="badge') == 1 and "Disabled" in heading
    listing = operator_client.get(reverse("datasources:list")).content.decode()
    row = listing[listing.index(ds.url[:40]) :]
    row = row[: row.index("</tr>")]
    assert row.count('class="badge') == 1, row


def test_an_active_expired_data_source_has_one_badge(operator_client, register):
    import datetime as dt

    import time_machine
    from django.utils import timezone

    ds = register(token_lifetime_minutes=30)
    with time_machine.travel(timezone.now() + dt.timedelta(hours=1), tick=False):
        html = operator_client.get(reverse("datasources:detail", args=[ds.public_id]))
    heading = html.content.decode().split("<h1", 1)[1].split("</h1>", 1)[0]
    assert heading.count('class="badge') == 1 and "Expired" in heading and "Active" not in heading


# ------------------------------------------------------------------------- the audit log
def test_the_audit_log_shows_action_labels_and_when_on_one_line(auditor_client, register):
    register()
    html = auditor_client.get(reverse("audit:log")).content.decode()
    assert '<span title="datasource.registered">Data source registered</span>' in html
    assert "<code>datasource.registered</code>" not in html
    assert '<td class="when-cell">' in html
    with open(finders.find("css/portal.css")) as f:
        css = f.read()
    assert ".when-cell { white-space: nowrap; }" in css
    # The filter offers the same labels.
    assert '<option value="datasource.registered">Data source registered</option>' in html


def test_the_audit_log_filters_by_org_name(auditor_client, org, register, portal_app, webex_world):
    register()
    other = tenant_services.org_onboarding_start(
        app=portal_app,
        webex_org_id="b2c3d4e5-0000-4000-8000-00000000abcd",
        name="Initech",
        region="us",
        actor=SYSTEM,
    )
    url = reverse("audit:log")
    registered = '<span title="datasource.registered">'
    started = '<span title="org.onboarding_started">'
    html = auditor_client.get(url, {"org": "globex retail"}).content.decode()
    assert registered in html and started not in html
    by_id = auditor_client.get(url, {"org": str(other.public_id)}).content.decode()
    assert started in by_id and registered not in by_id
    unknown = auditor_client.get(url, {"org": "Umbrella"}).content.decode()
    assert "No org is named “Umbrella”" in unknown and "Fix the filter above" in unknown
    # The box asks for suggestions as one types (htmx), into a datalist.
    assert 'list="org-suggestions"' in html and reverse("tenants:org_suggest") in html


def test_two_orgs_with_one_name_ask_for_the_id(auditor_client, org, portal_app):
    tenant_services.org_onboarding_start(
        app=portal_app,
        webex_org_id="c3d4e5f6-0000-4000-8000-00000000abcd",
        name=org.name,
        region="us",
        actor=SYSTEM,
    )
    html = auditor_client.get(reverse("audit:log"), {"org": org.name}).content.decode()
    assert f"2 orgs are named “{org.name}”: give the id" in html


@pytest.mark.parametrize(
    "persona, status", [("auditor", 200), ("onboarding", 200), ("norole", 403), ("anonymous", 302)]
)
def test_org_suggestions(client_for, org, persona, status):
    client = client_for(persona)
    response = client.get(reverse("tenants:org_suggest"), {"org": "glob"})
    assert response.status_code == status
    if status == 200:
        assert '<option value="Globex Retail"></option>' in response.content.decode()
        empty = client.get(reverse("tenants:org_suggest"), {"org": "zzz"})
        assert "<option" not in empty.content.decode()
