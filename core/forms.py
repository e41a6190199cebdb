"""Shared form plumbing: Bootstrap classes on every widget, error state on invalid fields."""

from django import forms
from django.core.exceptions import ValidationError


class PortalFormMixin:
    """Give each widget the Bootstrap class its type needs, and mark invalid fields so the
    template shows errors beside them (with aria-invalid for screen readers)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, forms.RadioSelect | forms.CheckboxSelectMultiple):
                css = "form-check-input"
            elif isinstance(widget, forms.Select):
                css = "form-select"
            elif isinstance(widget, forms.CheckboxInput):
                css = "form-check-input"
            else:
                css = "form-control"
            widget.attrs["class"] = f"{widget.attrs.get('class', '')} {css}".strip()

    def full_clean(self):
        super().full_clean()
        for name in self.errors:
            if name in self.fields:
                widget = self.fields[name].widget
                widget.attrs["class"] = widget.attrs.get("class", "") + " is-invalid"
                widget.attrs["aria-invalid"] = "true"


def add_service_errors(form, exc: ValidationError) -> None:
    """Put a service's ValidationError beside the form fields it names (others on top), and
    mark those fields invalid as the form's own errors are."""
    for field, errors in exc.message_dict.items():
        form.add_error(field if field in form.fields else None, errors)
    for name in form.errors:
        widget = form.fields[name].widget if name in form.fields else None
        if widget is not None and "is-invalid" not in widget.attrs.get("class", ""):
            widget.attrs["class"] = widget.attrs.get("class", "") + " is-invalid"
            widget.attrs["aria-invalid"] = "true"
