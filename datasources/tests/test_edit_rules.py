"""The services' own refusals before any call to Webex: an edit that changes nothing, a schema
change, a delete in a state that forbids it. The pages and the API both rely on them."""

import pytest
from django.core.exceptions import ValidationError

from datasources import services
from datasources.models import DataSource
from tenants.models import CustomerOrg

from .conftest import SCHEMA, SYSTEM

SAME = {
    "schema_id": SCHEMA,
    "url": "https://rx.byods.example.com/feed",
    "audience": "byods-rx",
    "subject": "globex-voice",
    "token_lifetime_minutes": 60,
}


@pytest.mark.django_db
def test_an_edit_with_the_stored_values_returns_the_row_untouched(register, emulator):
    ds = register()
    emulator.clear_requests_log()
    same = services.datasource_update(ds=ds, **(SAME | {"audience": " byods-rx "}))
    assert same is ds and same.version == 1
    assert emulator.requests_log() == []
    changed = services.datasource_update(
        ds=ds, **(SAME | {"url": "https://RX.byods.example.com./feed/2"}), actor=SYSTEM
    )
    assert changed.version == 2 and changed.url == "https://rx.byods.example.com/feed/2"
    assert len(emulator.requests_log(method="PUT")) == 1


@pytest.mark.django_db
def test_it_refuses_a_schema_change_before_any_call(register, emulator):
    ds = register()
    emulator.clear_requests_log()
    with pytest.raises(ValidationError) as refused:
        services.datasource_update(
            ds=ds, **(SAME | {"schema_id": "1b2b7077-dbcd-4732-b2f9-296f9168168a"})
        )
    assert (
        "Webex does not change a data source's schema" in refused.value.message_dict["schema_id"][0]
    )
    assert emulator.requests_log() == []


@pytest.mark.django_db
def test_delete_is_refused_before_any_call_for_an_inactive_org(register, emulator):
    ds = register()
    CustomerOrg.objects.filter(pk=ds.org_id).update(status=CustomerOrg.Status.OFFBOARDED)
    ds = DataSource.objects.select_related("org").get(pk=ds.pk)
    emulator.clear_requests_log()
    with pytest.raises(services.DataSourceError) as refused:
        services.datasource_delete(ds=ds, reason="customer left")
    assert refused.value.error is None  # a state, not a Webex refusal: the API's 409
    assert "changes reach Webex only for active orgs" in refused.value.reason
    assert emulator.requests_log() == [] and ds.deleted_at is None


@pytest.mark.django_db
def test_delete_twice_is_refused_the_second_time(register, emulator):
    ds = register()
    services.datasource_delete(ds=ds, reason="customer left", actor=SYSTEM)
    ds = DataSource.objects.select_related("org").get(pk=ds.pk)
    emulator.clear_requests_log()
    with pytest.raises(services.DataSourceError) as refused:
        services.datasource_delete(ds=ds, reason="customer left")
    assert refused.value.error is None and "already deleted" in refused.value.reason
    assert emulator.requests_log() == []
