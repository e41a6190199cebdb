"""The bulk kinds registry, without the database: one class per kind, and who may start it."""

import datetime as dt

import pytest

from accounts.roles import Perm, Role, role_has_perm
from datasources.models import DataSource
from operations.kinds import KINDS, BulkKind, bulk_kind
from operations.models import BulkOperation
from tenants.models import CustomerOrg

Kind = BulkOperation.Kind

# The permission of each kind's single-target page (datasources.views.datasource_rotate,
# datasource_disable, datasource_enable; tenants.views.org_offboard), and so the roles that
# may start it as the roles table grants that permission.
SINGLE_TARGET_PERM = {
    Kind.ROTATE: Perm.EDIT_DATASOURCES,
    Kind.DISABLE: Perm.OPERATE,
    Kind.ENABLE: Perm.OPERATE,
    Kind.OFFBOARD: Perm.OPERATE,
}
MAY_START = {
    Kind.ROTATE: {Role.OPERATOR, Role.ONBOARDING},
    Kind.DISABLE: {Role.OPERATOR},
    Kind.ENABLE: {Role.OPERATOR},
    Kind.OFFBOARD: {Role.OPERATOR},
}
NOW = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)


def test_every_kind_of_the_model_has_its_own_class():
    assert set(KINDS) == set(Kind.values)
    for value, kind in KINDS.items():
        assert isinstance(kind, BulkKind)
        assert kind.value == value
        assert bulk_kind(value) is kind
    assert len({type(kind) for kind in KINDS.values()}) == len(KINDS)


def test_an_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="unknown bulk kind"):
        bulk_kind("reboot")


@pytest.mark.parametrize("value", Kind.values)
def test_each_kind_needs_the_permission_of_its_single_target_page(value):
    kind = KINDS[value]
    assert kind.perm == SINGLE_TARGET_PERM[value]
    assert {role for role in Role if role_has_perm(role, kind.perm)} == MAY_START[value]


@pytest.mark.parametrize(
    "value, target_type, chosen_on",
    [
        (Kind.ROTATE, "datasource", ("datasource", "org")),
        (Kind.DISABLE, "datasource", ("datasource", "org")),
        (Kind.ENABLE, "datasource", ("datasource", "org")),
        (Kind.OFFBOARD, "org", ("org",)),
    ],
)
def test_each_kind_acts_on_its_target_type(value, target_type, chosen_on):
    assert (KINDS[value].target_type, KINDS[value].chosen_on) == (target_type, chosen_on)


def _ds(status="active", org_status="active", **kw) -> DataSource:
    org = CustomerOrg(name="Globex", status=org_status)
    return DataSource(org=org, url="https://rx.byods.example.com/feed", status=status, **kw)


@pytest.mark.parametrize(
    "value, ds, reason",
    [
        (Kind.ROTATE, _ds(), ""),
        (Kind.ROTATE, _ds(deleted_at=NOW, status="disabled"), "deleted"),
        (Kind.ROTATE, _ds("disabled"), "disabled: only active data sources rotate"),
        (Kind.ROTATE, _ds(org_status="offboarding"), "its org Globex is offboarding"),
        (Kind.ROTATE, _ds(missing_at_webex_since=NOW), "gone at Webex (see the drift page)"),
        (
            Kind.ROTATE,
            _ds(org_status="reauthorization_required", missing_at_webex_since=NOW),
            "its org Globex is needs reauthorization",
        ),
        (Kind.DISABLE, _ds(), ""),
        (Kind.DISABLE, _ds("disabled", org_status="offboarding"), "already disabled"),
        (Kind.DISABLE, _ds(missing_at_webex_since=NOW), ""),
        (Kind.ENABLE, _ds("disabled"), ""),
        (Kind.ENABLE, _ds(), "already active"),
        (Kind.ENABLE, _ds("disabled", org_status="deauthorized"), "its org Globex is deauthorized"),
    ],
)
def test_data_source_kinds_skip_for_the_first_reason_that_applies(value, ds, reason):
    assert KINDS[value].skip_reason(ds) == reason


@pytest.mark.parametrize(
    "status, reason", [("active", ""), ("offboarding", ""), ("offboarded", "already offboarded")]
)
def test_offboard_skips_only_offboarded_orgs(status, reason):
    assert KINDS[Kind.OFFBOARD].skip_reason(CustomerOrg(name="Globex", status=status)) == reason


@pytest.mark.parametrize(
    "value, target, applied",
    [
        (Kind.ROTATE, _ds(last_rotated_at=NOW), True),
        (Kind.ROTATE, _ds(last_rotated_at=NOW - dt.timedelta(seconds=1)), False),
        (Kind.ROTATE, _ds(), False),
        (Kind.DISABLE, _ds("disabled"), True),
        (Kind.DISABLE, _ds(), False),
        (Kind.ENABLE, _ds(), True),
        (Kind.ENABLE, _ds("disabled"), False),
        (Kind.OFFBOARD, CustomerOrg(status="offboarded"), True),
        (Kind.OFFBOARD, CustomerOrg(status="offboarding"), False),
    ],
)
def test_a_resumed_run_sees_the_change_already_applied(value, target, applied):
    assert KINDS[value].already_applied(target, since=NOW) is applied


@pytest.mark.parametrize(
    "value, params, confirm_fields",
    [
        (Kind.ROTATE, (), ()),
        (Kind.DISABLE, ("message",), ("message",)),
        (Kind.ENABLE, (), ()),
        (Kind.OFFBOARD, ("mode", "reason"), ("mode", "reason", "confirm_count")),
    ],
)
def test_each_kind_keeps_only_its_own_input(value, params, confirm_fields):
    kind = KINDS[value]
    assert (kind.params, kind.confirm_fields) == (params, confirm_fields)
    assert set(kind.params) <= set(kind.confirm_fields)


def test_disable_and_offboard_warn_on_their_preview():
    destructive = {value for value, kind in KINDS.items() if kind.destructive}
    assert destructive == {Kind.DISABLE, Kind.OFFBOARD}
    assert "cannot be undone" in KINDS[Kind.OFFBOARD].warning
