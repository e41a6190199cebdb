"""Input serializers that validate with the pages' own forms.

The declared fields describe the input for the OpenAPI schema; validation runs the Django form
the page uses (and then the same service), so an API client gets exactly the messages a person
gets beside the form fields. No business rule lives here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from rest_framework import serializers


def form_value(value):
    """A JSON value as a form field expects it from a POSTed form: a string."""
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
    form_class = None

    def form_kwargs(self) -> dict:
        return dict(self.context.get("form_kwargs", {}))

    def prepare(self, data: dict) -> dict:
        """Translate API spellings to the form's (e.g. public UUIDs to choices)."""
        return data

    def to_internal_value(self, data):
        if not isinstance(data, Mapping):
            raise serializers.ValidationError({"non_field_errors": ["Send a JSON object."]})
        prepared = self.prepare({k: form_value(v) for k, v in data.items()})
        form = self.form_class(data=prepared, **self.form_kwargs())
        if not form.is_valid():
            raise serializers.ValidationError(
                {
                    ("non_field_errors" if name == "__all__" else name): list(errors)
                    for name, errors in form.errors.items()
                }
            )
        return form.cleaned_data
