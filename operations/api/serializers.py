"""Bulk operations as the API shows them, and their input, validated with the pages' forms.

The selection is checked by `SelectionForm` and the action's input by `ConfirmForm` (so the
messages are the ones beside the page's fields); the rules that need the database (unknown
filters, nothing selected, what the preview promises) are the services'. No secrets: the
operation's params hold the disable message, the offboarding mode and reason, and how the
targets were chosen.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api.serializers import (
    check_json,
    check_text,
    check_unread,
    form_value,
    text_field,
)

from ..forms import ConfirmForm, SelectionForm
from ..kinds import KINDS
from ..models import BulkItem, BulkOperation
from ..selectors import FILTERS

FILTER_NAMES = sorted({name for names in FILTERS.values() for name in names})
# Every field some kind's confirmation asks for; `ConfirmForm` keeps those of the kind chosen.
CONFIRM_FIELDS = tuple(dict.fromkeys(f for kind in KINDS.values() for f in kind.confirm_fields))


@extend_schema_field(
    {
        "type": "object",
        "properties": {name: {"type": "string"} for name in FILTER_NAMES},
        "additionalProperties": False,
    }
)
class FiltersField(serializers.DictField):
    """The list's filters by name; a name the list does not have is refused (by the service)."""

    child = serializers.CharField(allow_blank=True)


def _form_errors(form, rename: dict[str, str] | None = None) -> serializers.ValidationError:
    rename = rename or {}
    return serializers.ValidationError(
        {
            rename.get(name, "non_field_errors" if name == "__all__" else name): list(errors)
            for name, errors in form.errors.items()
        }
    )


class SelectionSerializer(serializers.Serializer):
    """Which action on which targets: `ids`, or `all` with the list's `filters`."""

    kind = serializers.ChoiceField(
        choices=BulkOperation.Kind.choices,
        help_text="rotate and enable/disable act on data sources, offboard on orgs.",
    )
    target_type = serializers.ChoiceField(
        choices=BulkOperation.TargetType.choices,
        help_text="What `ids` (or `filters`) name. Data source actions may name orgs: they "
        "then apply to those orgs' live data sources.",
    )
    ids = serializers.ListField(
        child=serializers.UUIDField(),
        required=False,
        max_length=500,
        help_text="The chosen targets' ids (at most 500), unless `all` is true.",
    )
    all = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Every target the `filters` match, as “all matching” on the list page.",
    )
    filters = FiltersField(
        required=False,
        help_text="With `all`: the list's filters. Data sources: "
        + ", ".join(FILTERS[BulkOperation.TargetType.DATASOURCE])
        + "; orgs: "
        + ", ".join(FILTERS[BulkOperation.TargetType.ORG])
        + ".",
    )

    def to_internal_value(self, data):
        """Validated by `SelectionForm`; returns {"kind", "selection", "filters"} where
        `selection` is the form's and `filters` what was sent (unknown names are refused by
        the service, with its message)."""
        check_json(data, self.fields)
        ids = data.get("ids") or []
        filters = data.get("filters") or {}
        prepared = {
            form_name: form_value(data[name])
            for name, form_name in (("kind", "kind"), ("target_type", "target"))
            if name in data
        }
        prepared["ids"] = [form_value(v) for v in ids]
        if data.get("all") not in (None, False, "", "false"):
            prepared["all"] = form_value(data.get("all"))
        for name in FILTER_NAMES:
            if name in filters:
                prepared[name] = form_value(filters[name])
        form = SelectionForm(data=prepared)
        if not form.is_valid():
            raise _form_errors(
                form, {"target": "target_type"} | {name: f"filters.{name}" for name in FILTER_NAMES}
            )
        selection = form.selection()
        if selection.all_matching:
            # The form keeps only the filters it knows; send the service what was asked for,
            # so an unknown filter is refused rather than silently widening the selection.
            sent = {str(k): form_value(v) for k, v in filters.items()}
            selection = type(selection)(
                target_type=selection.target_type,
                all_matching=True,
                filters={k: v for k, v in sent.items() if v} | selection.filters,
            )
        return {"kind": form.cleaned_data["kind"], "selection": selection}


class StartSerializer(SelectionSerializer):
    """The selection, and the action's own input as the confirmation form asks for it."""

    message = text_field(
        max_length=256,
        required=False,
        help_text="disable: shown to the customer's admin (up to 256 characters).",
    )
    mode = serializers.ChoiceField(
        choices=["disable", "delete"],
        required=False,
        help_text="offboard: what happens to the orgs' data sources at Webex.",
    )
    reason = text_field(
        min_length=5,
        max_length=500,
        required=False,
        help_text="offboard: kept in the audit trail (5 to 500 characters).",
    )
    confirm_count = serializers.IntegerField(
        required=False,
        help_text="offboard: the number of orgs the preview says will be offboarded.",
    )


def confirm_params(data, *, kind: str, expected: int) -> dict:
    """The action's input, checked by the page's `ConfirmForm` (same fields, same messages),
    once the JSON types are right."""
    fields = {n: f for n, f in StartSerializer().fields.items() if n in CONFIRM_FIELDS}
    check_json(data, fields, only=False)
    prepared = {name: form_value(data.get(name)) for name in CONFIRM_FIELDS if name in data}
    form = ConfirmForm(data=prepared, kind=kind, expected=expected)
    if not form.is_valid():
        raise _form_errors(form)
    check_text(data, {n: f for n, f in fields.items() if n in form.fields})
    check_unread(data, {n: f for n, f in fields.items() if n not in form.fields})
    return form.params()


class SkippedSerializer(serializers.Serializer):
    reason = serializers.CharField()
    count = serializers.IntegerField()


class PreviewSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=BulkOperation.Kind.choices)
    target_type = serializers.ChoiceField(
        choices=BulkOperation.TargetType.choices, help_text="What each item is."
    )
    selection = serializers.CharField(help_text="The selection in words.")
    total = serializers.IntegerField()
    will_change = serializers.IntegerField()
    skipped_count = serializers.IntegerField()
    skipped = SkippedSerializer(many=True, help_text="Why targets are skipped, most first.")
    sample = serializers.ListField(
        child=serializers.CharField(), help_text="The first targets that will change."
    )

    def to_representation(self, preview):
        return {
            "kind": preview.kind,
            "target_type": preview.target_type,
            "selection": preview.selection,
            "total": preview.total,
            "will_change": preview.will_change,
            "skipped_count": preview.skipped_count,
            "skipped": [{"reason": r, "count": n} for r, n in preview.skipped],
            "sample": list(preview.sample),
        }


class OperationSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    processed = serializers.IntegerField(read_only=True)
    percent = serializers.IntegerField(read_only=True, help_text="0 to 100.")
    created_by = serializers.SerializerMethodField()
    selection = serializers.SerializerMethodField()
    message = serializers.SerializerMethodField()
    mode = serializers.SerializerMethodField()
    reason = serializers.SerializerMethodField()
    retry_of = serializers.UUIDField(
        source="retry_of.public_id", read_only=True, default=None, allow_null=True
    )

    class Meta:
        model = BulkOperation
        fields = [
            "id",
            "kind",
            "target_type",
            "state",
            "total",
            "succeeded",
            "failed",
            "skipped",
            "processed",
            "percent",
            "selection",
            "message",
            "mode",
            "reason",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
            "retry_of",
        ]

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_created_by(self, op: BulkOperation) -> str | None:
        if op.created_by:
            return op.created_by.get_username()
        started_by = op.params.get("actor")
        return started_by.get("label") if isinstance(started_by, dict) else None

    def _param(self, op: BulkOperation, name: str) -> str:
        return str(op.params.get(name) or "")

    def get_selection(self, op: BulkOperation) -> str:
        return self._param(op, "selection")

    def get_message(self, op: BulkOperation) -> str:
        return self._param(op, "message")

    def get_mode(self, op: BulkOperation) -> str:
        return self._param(op, "mode")

    def get_reason(self, op: BulkOperation) -> str:
        return self._param(op, "reason")


class ItemSerializer(serializers.ModelSerializer):
    target_id = serializers.UUIDField(source="target_public_id", read_only=True)
    target_label = serializers.CharField(read_only=True)

    class Meta:
        model = BulkItem
        fields = ["target_id", "target_label", "state", "reason", "attempts", "finished_at"]
