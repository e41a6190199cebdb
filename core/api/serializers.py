"""Input serializers that validate with the pages' own forms, after checking the JSON itself.

The declared fields describe the input for the OpenAPI schema and are the API's own, strict
reading of the JSON: each value must have the JSON type its field declares (a list or an object
is never turned into text, a string never into a number) and text must match what the schema
says (`text_field`). Then the Django form the page uses validates (and then the same service),
so an API client gets exactly the messages a person gets beside the form fields. No business
rule lives here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import cast

from django import forms
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import MinLengthValidator, RegexValidator
from rest_framework import serializers

# What Python's str.strip() (and so every form field) removes, plus the other control
# characters: never at either end of API text. The pages trim such characters silently; the
# API refuses them, so that what is stored (and sent to Webex) is exactly what was sent.
_EDGE = r"\x00-\x20\x7f-\x9f\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_CONTROL = r"\x00-\x1f\x7f-\x9f"
TEXT_PATTERN = rf"^[^{_EDGE}]([^{_CONTROL}]*[^{_EDGE}])?$"
TEXT_RULE = "Send text without control characters and without spaces at either end."


def text_field(*, max_length: int, min_length: int = 1, **kwargs) -> serializers.CharField:
    """A JSON string as a person would type it: `min_length` to `max_length` characters, no
    control characters, no spaces at either end. The schema says the same (`pattern`)."""
    return serializers.CharField(
        max_length=max_length,
        min_length=min_length,
        trim_whitespace=False,
        validators=[RegexValidator(TEXT_PATTERN, TEXT_RULE)],
        **kwargs,
    )


# --- The JSON type of each value ------------------------------------------------------------
_WANTED = {
    "string": "a JSON string",
    "integer": "a JSON integer (a whole number, not in quotes)",
    "boolean": "true or false",
    "array": "a JSON array",
    "object": "a JSON object",
}


def _json_type(field: serializers.Field) -> str | None:
    """The JSON type a declared field takes, or None for fields that take any."""
    if isinstance(field, serializers.BooleanField):
        return "boolean"
    if isinstance(field, serializers.IntegerField):
        return "integer"
    if isinstance(field, serializers.ListField | serializers.MultipleChoiceField):
        return "array"
    if isinstance(field, serializers.DictField):
        return "object"
    if isinstance(field, serializers.JSONField):
        return None
    return "string"  # CharField, EmailField, ChoiceField, UUIDField, ...


def _is(kind: str, value) -> bool:
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    python = {"string": str, "boolean": bool, "array": list, "object": dict}[kind]
    return isinstance(value, python)


def _described(value) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return "null" if value is None else type(value).__name__


def _type_errors(field: serializers.Field, value) -> list[str]:
    if value is None:
        return [] if field.allow_null else ["This field may not be null."]
    kind = _json_type(field)
    if kind is not None and not _is(kind, value):
        return [f"Send {_WANTED[kind]}, not {_described(value)}."]
    return []


def _text_errors(field: serializers.Field, value) -> list[str]:
    """The field's own limits on the text as sent (the form sees it trimmed). The minimum is
    left to the form and the service, whose messages the pages show."""
    if not (isinstance(field, serializers.CharField) and isinstance(value, str) and value):
        return []
    errors: list[str] = []
    # A CharField's validators check the value alone (text_field's pattern, DRF's length and
    # character checks): none is of DRF's `requires_context` kind, which takes the field too.
    for validator in cast("list[Callable[[str], None]]", field.validators):
        if isinstance(validator, MinLengthValidator):
            continue
        try:
            validator(value)
        except DjangoValidationError as exc:
            errors.extend(exc.messages)
        except serializers.ValidationError as exc:  # DRF's own validators raise its kind
            errors.extend(str(m) for m in exc.detail)
    return errors


def _errors(data: Mapping, fields: Mapping[str, serializers.Field], check) -> dict:
    errors: dict[str, list[str]] = {}
    for name, field in fields.items():
        if field.read_only or name not in data:
            continue
        value = data[name]
        problems = check(field, value)
        if problems:
            errors[name] = problems
        elif isinstance(field, serializers.ListField) and isinstance(value, list):
            for index, item in enumerate(value):
                if item_problems := check(field.child, item):
                    errors[f"{name}.{index}"] = item_problems
        elif isinstance(field, serializers.DictField) and isinstance(value, dict):
            for key, item in value.items():
                if item_problems := check(field.child, item):
                    errors[f"{name}.{key}"] = item_problems
    return errors


def check_json(data, fields: Mapping[str, serializers.Field], *, only: bool = True) -> Mapping:
    """`data` if it is a JSON object whose values have the JSON types their fields declare;
    else the ValidationError naming each bad field. With `only`, a name that is not a field
    is refused too (a misspelt field is not silently ignored; the schema says
    `additionalProperties: false`)."""
    if not isinstance(data, Mapping):
        raise serializers.ValidationError({"non_field_errors": ["Send a JSON object."]})
    errors = _errors(data, fields, _type_errors)
    if only:
        for name in data:
            if name not in fields or fields[name].read_only:
                errors[str(name)] = [
                    f"Unknown field: this request takes only {', '.join(sorted(fields))}."
                ]
    if errors:
        raise serializers.ValidationError(errors)
    return data


def check_text(data: Mapping, fields: Mapping[str, serializers.Field]) -> None:
    """The ValidationError naming each text value, as sent, its field refuses (too long,
    control characters, spaces at either end): run once the form has accepted the input."""
    errors = _errors(data, fields, _text_errors)
    if errors:
        raise serializers.ValidationError(errors)


def check_unread(data: Mapping, fields: Mapping[str, serializers.Field]) -> None:
    """Input that no form or service reads (a field the request's kind does not take) is
    held to the field's own rules only, in full (choices, limits): what the schema says."""
    errors = {}
    for name, field in fields.items():
        if name in data:
            try:
                field.run_validation(data[name])
            except serializers.ValidationError as exc:
                errors[name] = [str(m) for m in exc.detail]
    if errors:
        raise serializers.ValidationError(errors)


def form_value(value):
    """A JSON value (of the type its field declares) as a form field expects it: a string."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


class FormSerializer(serializers.Serializer):
    form_class: type[forms.Form] | None = None  # each subclass names its page's form

    def form_kwargs(self) -> dict:
        return dict(self.context.get("form_kwargs", {}))

    def prepare(self, data: dict) -> dict:
        """Translate API spellings to the form's (e.g. public UUIDs to choices)."""
        return data

    def to_internal_value(self, data):
        check_json(data, self.fields)
        prepared = self.prepare({k: form_value(v) for k, v in data.items()})
        form = self.form_class(data=prepared, **self.form_kwargs())
        if not form.is_valid():
            raise serializers.ValidationError(
                {
                    ("non_field_errors" if name == "__all__" else name): list(errors)
                    for name, errors in form.errors.items()
                }
            )
        check_text(data, self.fields)
        return form.cleaned_data
