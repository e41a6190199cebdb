"""`service_call`, the pages' one try/except: where each kind of refusal is shown, without a
database (messages are kept in a cookie store on a bare request)."""

import pytest
from django import forms
from django.contrib import messages
from django.contrib.messages.storage.cookie import CookieStorage
from django.core.exceptions import ValidationError
from django.test import RequestFactory

from core.errors import PortalError
from core.forms import PortalFormMixin
from core.views import ServiceCall, service_call


class AppRefused(PortalError):
    """Stands for an app's own subclass (DataSourceError, WebexRefused…): the helper knows
    only the base."""

    code = "app_refused"


class ThingForm(PortalFormMixin, forms.Form):
    name = forms.CharField()
    url = forms.CharField()


@pytest.fixture
def request_():
    request = RequestFactory().post("/things/")
    request._messages = CookieStorage(request)
    return request


@pytest.fixture
def form():
    form = ThingForm({"name": "Receiver", "url": "https://receiver.example"})
    assert form.is_valid()
    return form


def shown(request) -> list[tuple[int, str]]:
    return [(m.level, m.message) for m in messages.get_messages(request)]


def test_a_call_that_finishes_is_ok_and_shows_nothing(request_, form):
    with service_call(request_, form=form) as call:
        result = "registered"
    assert call.ok
    assert result == "registered"
    assert call.invalid is None
    assert call.refusal is None
    assert call.refusal_message == ""
    assert shown(request_) == []
    assert form.errors == {}


def test_a_validation_error_goes_beside_the_fields_it_names(request_, form):
    with service_call(request_, form=form) as call:
        raise ValidationError({"url": "Not an allowed domain.", "elsewhere": "Top of the form."})
    assert not call.ok
    assert form.errors["url"] == ["Not an allowed domain."]
    assert form.non_field_errors() == ["Top of the form."]
    assert "is-invalid" in form.fields["url"].widget.attrs["class"]
    assert form.fields["url"].widget.attrs["aria-invalid"] == "true"
    assert "is-invalid" not in form.fields["name"].widget.attrs["class"]
    assert isinstance(call.invalid, ValidationError)
    assert call.refusal is None
    assert shown(request_) == []  # beside the fields, not as a message


def test_what_the_block_assigns_keeps_its_value_when_the_service_refuses(request_, form):
    def refuse():
        raise AppRefused("Webex refused.")

    ds = "the data source shown before"
    with service_call(request_, form=form) as call:
        ds = refuse()
    assert not call.ok
    assert ds == "the data source shown before"


def test_without_a_form_each_field_s_errors_become_one_message(request_):
    with service_call(request_) as call:
        raise ValidationError(
            {"reason": ["Give a reason.", "At least 5 characters."], "resolution": "Choose one."}
        )
    assert not call.ok
    assert shown(request_) == [
        (messages.ERROR, "Give a reason. At least 5 characters."),
        (messages.ERROR, "Choose one."),
    ]


def test_without_a_form_a_validation_error_naming_no_field_is_one_message(request_):
    with service_call(request_) as call:
        raise ValidationError(["Already resolved.", "Nothing to do."])
    assert not call.ok
    assert shown(request_) == [(messages.ERROR, "Already resolved. Nothing to do.")]


def test_a_portal_error_becomes_an_error_message_by_default(request_, form):
    refusal = AppRefused("Webex refused the data source (trackingId T1).")
    with service_call(request_, form=form) as call:
        raise refusal
    assert not call.ok
    assert call.refusal is refusal
    assert call.refusal_message == refusal.message
    assert shown(request_) == [(messages.ERROR, "Webex refused the data source (trackingId T1).")]
    assert form.errors == {}  # the form itself was fine


def test_the_base_itself_is_caught_too(request_):
    with service_call(request_) as call:
        raise PortalError("The org is being offboarded.")
    assert not call.ok
    assert shown(request_) == [(messages.ERROR, "The org is being offboarded.")]


def test_a_refusal_can_go_on_top_of_the_form(request_, form):
    with service_call(request_, form=form, refusal="form") as call:
        raise AppRefused("Nothing was stored. Webex is unavailable.")
    assert not call.ok
    assert form.non_field_errors() == ["Nothing was stored. Webex is unavailable."]
    assert shown(request_) == []


def test_a_refusal_can_be_left_for_the_page_to_show(request_, form):
    with service_call(request_, form=form, refusal=None) as call:
        raise AppRefused("Webex refused to issue tokens.")
    assert not call.ok
    assert isinstance(call.refusal, AppRefused)
    assert call.refusal_message == "Webex refused to issue tokens."
    assert shown(request_) == []
    assert form.errors == {}


def test_a_validation_error_still_goes_to_the_form_when_refusals_are_left_to_the_page(
    request_, form
):
    with service_call(request_, form=form, refusal=None) as call:
        raise ValidationError({"name": "Taken."})
    assert not call.ok
    assert call.refusal_message == ""
    assert form.errors["name"] == ["Taken."]


def test_anything_else_is_not_caught(request_, form):
    call = service_call(request_, form=form)
    with pytest.raises(RuntimeError, match="a bug"), call:
        raise RuntimeError("a bug")
    assert not call.ok
    assert call.refusal is None
    assert call.invalid is None
    assert shown(request_) == []


def test_a_refusal_on_the_form_needs_the_form(request_):
    with pytest.raises(ValueError, match="needs the form"):
        service_call(request_, refusal="form")


def test_an_unknown_place_for_the_refusal_is_a_mistake(request_):
    with pytest.raises(ValueError, match="refusal must be"):
        service_call(request_, refusal="banner")


def test_the_helper_returns_the_call_it_manages(request_):
    call = service_call(request_)
    assert isinstance(call, ServiceCall)
    with call as entered:
        pass
    assert entered is call
    assert call.ok
