"""Forms of the bulk flow: the selection (from a list page) and the action's own input."""

from __future__ import annotations

import uuid

from django import forms
from django.core.exceptions import ValidationError

from core.forms import PortalFormMixin
from tenants.models import CustomerOrg

from .kinds import KINDS, NEEDS_MESSAGE
from .models import BulkOperation
from .selectors import FILTERS, Selection

MAX_IDS = 500  # checked rows come from one list page (50); more is not a hand-made selection


class UUIDListField(forms.Field):
    """Repeated `ids=<uuid>` parameters; a malformed id is an error naming the field."""

    widget = forms.MultipleHiddenInput
    hidden_widget = forms.MultipleHiddenInput

    def to_python(self, value):
        values = value or []
        if isinstance(values, str):
            values = [values]
        out = []
        for v in values:
            try:
                out.append(uuid.UUID(str(v)))
            except ValueError:
                raise ValidationError(f"Not a valid id: {str(v)[:40]}.") from None
        if len(out) > MAX_IDS:
            raise ValidationError(
                f"At most {MAX_IDS} checked rows; choose “all matching the filter” instead."
            )
        return tuple(dict.fromkeys(out))


class SelectionForm(forms.Form):
    """Which action, on which rows: the checked ones or all matching the list's filters."""

    kind = forms.ChoiceField(choices=BulkOperation.Kind.choices)
    target = forms.ChoiceField(choices=BulkOperation.TargetType.choices)
    ids = UUIDListField(required=False)
    all = forms.BooleanField(required=False, widget=forms.HiddenInput)
    q = forms.CharField(required=False, max_length=200, widget=forms.HiddenInput)
    org = forms.CharField(required=False, max_length=40, widget=forms.HiddenInput)
    status = forms.CharField(required=False, max_length=40, widget=forms.HiddenInput)
    health = forms.CharField(required=False, max_length=40, widget=forms.HiddenInput)
    offboarded = forms.CharField(required=False, max_length=1, widget=forms.HiddenInput)

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        if not data.get("all") and not data.get("ids"):
            raise ValidationError(
                {"ids": "Select at least one row, or all rows matching the filter."}
            )
        return data

    def selection(self) -> Selection:
        d = self.cleaned_data
        target = d["target"]
        filters = {}
        if d.get("all"):
            filters = {name: d[name] for name in FILTERS[target] if d.get(name)}
        return Selection(
            target_type=target,
            public_ids=() if d.get("all") else d.get("ids", ()),
            all_matching=bool(d.get("all")),
            filters=filters,
        )


class ConfirmForm(PortalFormMixin, forms.Form):
    """The action's own input; only the fields its kind needs are kept."""

    message = forms.CharField(
        label="Message for the customer's admin",
        error_messages={"required": NEEDS_MESSAGE},
        max_length=256,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Shown in Control Hub beside each disabled data source (up to 256 characters).",
    )
    mode = forms.ChoiceField(
        label="The orgs' data sources at Webex",
        error_messages={"required": "Choose whether to disable or delete the data sources."},
        choices=CustomerOrg.OffboardMode.choices,
        widget=forms.RadioSelect,
    )
    reason = forms.CharField(
        label="Reason",
        error_messages={"required": "Give a reason (at least 5 characters)."},
        max_length=500,
        help_text="Kept in the audit trail of every org (at least 5 characters).",
    )

    confirm_count = forms.IntegerField(
        label="Type the number of orgs to offboard",
        help_text="Offboarding cannot be undone from the portal: confirm how many orgs it affects.",
        error_messages={"required": "Type the number of orgs to offboard."},
    )

    def __init__(self, *args, kind: str, expected: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.expected = expected
        self.kind = KINDS[kind]
        keep = self.kind.confirm_fields
        for name in list(self.fields):
            if name not in keep:
                del self.fields[name]

    def clean_confirm_count(self):
        value = self.cleaned_data["confirm_count"]
        if self.expected is not None and value != self.expected:
            raise ValidationError(
                f"Type {self.expected}: the number of orgs the preview says will be offboarded."
            )
        return value

    def params(self) -> dict:
        """The action's input for the service (the typed confirmation stays here)."""
        return {n: self.cleaned_data.get(n) or "" for n in self.kind.params}
