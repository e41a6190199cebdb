"""The bulk kinds: one class per action, holding everything that differs from one to another.

A kind knows who may start it (the permission of its single-target page), what its items are
(data sources or orgs) and how they are read, the input it needs and the rules for it, why a
target is skipped, how a resumed run sees that a target already shows the change, and the
single-target service it calls. `KINDS` maps each `BulkOperation.Kind` value to its kind; a
test checks that every value has one. The bookkeeping that is the same for every kind (items,
counters, the lease, turning refusals into failed items) is `operations.services`'.

Adding a kind: a value in `BulkOperation.Kind` (and its check constraint), a subclass of
`DataSourceKind` or `OrgKind` here, an entry in `KINDS`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import ClassVar

from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from accounts.roles import Perm
from audit.context import Actor
from datasources import services as ds_services
from datasources.models import DataSource
from tenants import services as tenant_services
from tenants.models import CustomerOrg

from .models import BulkItem, BulkOperation
from .offboarding import org_offboard_run
from .selectors import Selection, bulk_item_targets

Kind = BulkOperation.Kind
TargetType = BulkOperation.TargetType
ItemState = BulkItem.State

NEEDS_MESSAGE = "Disabling needs a message: the customer's admin sees it in Control Hub."
LABEL_MAX = 200  # BulkItem.target_label
REASON_MAX = 500  # BulkItem.reason


class BulkKind:
    """One bulk action. Instances hold no state; `KINDS` holds one of each."""

    value: ClassVar[str]  # its BulkOperation.Kind
    target_type: ClassVar[str]  # what each item is
    chosen_on: ClassVar[tuple[str, ...]]  # the list pages it may be chosen on
    perm: ClassVar[str]  # the permission of its single-target page
    warning: ClassVar[str] = ""  # what its preview warns of; a kind with one is destructive
    params: ClassVar[tuple[str, ...]] = ()  # the input it keeps (operation.params)
    confirm_fields: ClassVar[tuple[str, ...]] = ()  # what its confirmation form asks for
    fields: ClassVar[tuple[str, ...]]  # what `skip_reason` and `label_of` read

    @property
    def label(self) -> str:
        return Kind(self.value).label

    @property
    def destructive(self) -> bool:
        """Its preview shows `warning` and its button is red."""
        return bool(self.warning)

    def allowed(self, user) -> bool:
        """May `user` (staff or API key) start or retry an operation of this kind?"""
        return user.has_perm(self.perm)

    def describe(self, selection: Selection) -> str:
        """The selection in words, as its items are made of it."""
        if self.target_type == selection.target_type:
            return selection.describe()
        return f"the data sources of {selection.describe()}"

    def targets(self, selection: Selection) -> QuerySet:
        """The items' targets, with only the `fields` the preview and the start read."""
        return bulk_item_targets(selection, self.target_type).only(*self.fields)

    def load(self, public_id):
        """One item's target, fully loaded for the action; None when it is gone."""
        raise NotImplementedError

    def label_of(self, target) -> str:
        raise NotImplementedError

    def clean_params(self, params: Mapping) -> dict:
        """The action's own input, checked with the same rules as the single-target pages."""
        return {}

    def skip_reason(self, target) -> str:
        """Why this target would not change (empty: it will). The same rule serves the
        preview, the start and every item at run time, so what the preview promised is what
        happens."""
        raise NotImplementedError

    def already_applied(self, target, *, since: dt.datetime) -> bool:
        """Whether the target already shows the change of an item started at `since`:
        applied before a crash, so it is recorded without being applied again."""
        raise NotImplementedError

    def apply(self, target, *, params: Mapping, actor: Actor) -> tuple[str, str]:
        """Call the single-target service; returns (item state, reason). The services' typed
        refusals propagate: `operations.services` turns them into the item's reason."""
        raise NotImplementedError


def _org_state_reason(org: CustomerOrg) -> str:
    return f"its org {org.name} is {org.get_status_display().lower()}"


class DataSourceKind(BulkKind):
    """Acts on data sources; chosen on orgs, it acts on those orgs' live data sources."""

    target_type = TargetType.DATASOURCE
    chosen_on = (TargetType.DATASOURCE, TargetType.ORG)
    fields = (
        "public_id",
        "url",
        "status",
        "deleted_at",
        "missing_at_webex_since",
        "org__name",
        "org__status",
    )

    def load(self, public_id) -> DataSource | None:
        return (
            DataSource.objects.select_related("org__service_app")
            .filter(public_id=public_id, deleted_at__isnull=True)
            .first()
        )

    def label_of(self, target: DataSource) -> str:
        return f"{target.org.name} · {target.url}"[:LABEL_MAX]

    def status_reason(self, ds: DataSource) -> str:
        """This kind's own rule on the data source's status (empty: it may change)."""
        return ""

    def skip_reason(self, target: DataSource) -> str:
        if target.deleted_at:
            return "deleted"
        reason = self.status_reason(target)
        if reason:
            return reason
        if target.org.status != CustomerOrg.Status.ACTIVE:
            return _org_state_reason(target.org)
        return ""


class OrgKind(BulkKind):
    """Acts on orgs, chosen on the orgs list only."""

    target_type = TargetType.ORG
    chosen_on = (TargetType.ORG,)
    fields = ("public_id", "name", "status")

    def targets(self, selection: Selection) -> QuerySet:
        return super().targets(selection).select_related(None)

    def load(self, public_id) -> CustomerOrg | None:
        return CustomerOrg.objects.select_related("service_app").filter(public_id=public_id).first()

    def label_of(self, target: CustomerOrg) -> str:
        return target.name[:LABEL_MAX]


class RotateKind(DataSourceKind):
    value = Kind.ROTATE
    perm = Perm.EDIT_DATASOURCES
    # How a refusal of the rotation engine reads on the item, by its outcome.
    FAILED = {
        "rate_limited": "not rotated yet",
        "paused": "rotation is paused",
        "missing": "gone at Webex",
    }
    NOT_NOW = ("skipped", "in_progress", "already_rotated")

    def status_reason(self, ds: DataSource) -> str:
        if ds.status != DataSource.Status.ACTIVE:
            return "disabled: only active data sources rotate"
        return ""

    def skip_reason(self, target: DataSource) -> str:
        reason = super().skip_reason(target)
        if not reason and target.missing_at_webex_since:
            return "gone at Webex (see the drift page)"
        return reason

    def already_applied(self, target: DataSource, *, since: dt.datetime) -> bool:
        return bool(target.last_rotated_at and target.last_rotated_at >= since)

    def apply(self, target: DataSource, *, params: Mapping, actor: Actor) -> tuple[str, str]:
        result = ds_services.datasource_rotate(
            ds_id=target.pk, actor=actor, force=True, seen_version=target.version
        )
        if result.outcome == "rotated":
            return ItemState.SUCCEEDED, ""
        if result.outcome in self.NOT_NOW:
            return ItemState.SKIPPED, result.detail
        head = self.FAILED.get(result.outcome, "rotation failed")
        return ItemState.FAILED, f"{head}: {result.detail or ''}".rstrip(": ")[:REASON_MAX]


class DisableKind(DataSourceKind):
    value = Kind.DISABLE
    perm = Perm.OPERATE
    warning = "Webex stops sending data to these data sources until they are enabled again."
    params = ("message",)
    confirm_fields = ("message",)

    def clean_params(self, params: Mapping) -> dict:
        message = str(params.get("message") or "").strip()
        if not message:
            raise ValidationError({"message": NEEDS_MESSAGE})
        if len(message) > 256:
            raise ValidationError({"message": "Keep the message under 256 characters."})
        return {"message": message}

    def status_reason(self, ds: DataSource) -> str:
        return "already disabled" if ds.status == DataSource.Status.DISABLED else ""

    def already_applied(self, target: DataSource, *, since: dt.datetime) -> bool:
        return target.status == DataSource.Status.DISABLED

    def apply(self, target: DataSource, *, params: Mapping, actor: Actor) -> tuple[str, str]:
        ds_services.datasource_disable(ds=target, message=params["message"], actor=actor)
        return ItemState.SUCCEEDED, ""


class EnableKind(DataSourceKind):
    value = Kind.ENABLE
    perm = Perm.OPERATE

    def status_reason(self, ds: DataSource) -> str:
        return "already active" if ds.status == DataSource.Status.ACTIVE else ""

    def already_applied(self, target: DataSource, *, since: dt.datetime) -> bool:
        return target.status == DataSource.Status.ACTIVE

    def apply(self, target: DataSource, *, params: Mapping, actor: Actor) -> tuple[str, str]:
        ds_services.datasource_enable(ds=target, actor=actor)
        return ItemState.SUCCEEDED, ""


class OffboardKind(OrgKind):
    value = Kind.OFFBOARD
    perm = Perm.OPERATE
    warning = (
        "Each org's data sources are disabled or deleted at Webex and its tokens are destroyed. "
        "This cannot be undone from the portal."
    )
    params = ("mode", "reason")
    confirm_fields = ("mode", "reason", "confirm_count")

    def clean_params(self, params: Mapping) -> dict:
        errors = {}
        mode = str(params.get("mode") or "")
        reason = str(params.get("reason") or "").strip()
        if mode not in CustomerOrg.OffboardMode.values:
            errors["mode"] = "Choose whether to disable or delete the orgs' data sources."
        if len(reason) < 5:
            errors["reason"] = (
                "Give a reason (at least 5 characters): it is kept in the audit trail."
            )
        if errors:
            raise ValidationError(errors)
        return {"mode": mode, "reason": reason}

    def skip_reason(self, target: CustomerOrg) -> str:
        return "already offboarded" if target.status == CustomerOrg.Status.OFFBOARDED else ""

    def already_applied(self, target: CustomerOrg, *, since: dt.datetime) -> bool:
        return target.status == CustomerOrg.Status.OFFBOARDED

    def apply(self, target: CustomerOrg, *, params: Mapping, actor: Actor) -> tuple[str, str]:
        org = target
        if org.status != CustomerOrg.Status.OFFBOARDING:
            # The bulk confirmation stands in for typing each org's name.
            org = tenant_services.org_offboard_start(
                org=org,
                confirm_name=org.name,
                mode=params["mode"],
                reason=params["reason"],
                actor=actor,
            )
        outcome = org_offboard_run(org=org, actor=actor)
        if outcome in ("offboarded", "already offboarded"):
            return ItemState.SUCCEEDED, ""
        return ItemState.FAILED, outcome[:REASON_MAX]


KINDS: dict[str, BulkKind] = {
    kind.value: kind for kind in (RotateKind(), DisableKind(), EnableKind(), OffboardKind())
}


def bulk_kind(value: str) -> BulkKind:
    """The kind of a stored operation (its `kind` is one of `BulkOperation.Kind`)."""
    try:
        return KINDS[value]
    except KeyError:
        raise ValueError(f"unknown bulk kind {value!r}") from None
