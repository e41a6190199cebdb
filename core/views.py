"""Page plumbing shared by every app: how a page shows what a service refused.

Every page that writes calls one service and shows one of three outcomes: it worked, the input
broke a rule (a `ValidationError` naming fields), or the state of things or Webex refused (a
`PortalError`). `service_call` is that try/except, written once:

    with service_call(request, form=form) as call:
        ds = services.datasource_register(org=org, **payload)
    if call.ok:
        messages.success(request, f"Registered {ds.url} at Webex.")
        return redirect("datasources:detail", public_id=ds.public_id)
    return render(...)  # the form again, with the errors in it

It knows only `ValidationError` and the `PortalError` base, not the apps' subclasses; anything
else (a bug, a database error) is not caught. Keep only the service call inside the `with`:
whatever the block assigns keeps its previous value when the call is refused, as it did under
`try`, and the success path goes under `if call.ok:`.
"""

from __future__ import annotations

from typing import Literal

from django.contrib import messages
from django.core.exceptions import ValidationError

from .errors import PortalError
from .forms import add_service_errors

RefusalShown = Literal["messages", "form"] | None


class ServiceCall:
    """The outcome of one service call on a page; see `service_call`."""

    def __init__(self, request, *, form=None, refusal: RefusalShown = "messages") -> None:
        if refusal not in ("messages", "form", None):
            raise ValueError(f"refusal must be 'messages', 'form' or None, not {refusal!r}")
        if refusal == "form" and form is None:
            raise ValueError("refusal='form' needs the form to show the refusal in")
        self.request = request
        self.form = form
        self.refusal_shown = refusal
        self.ok = False
        self.invalid: ValidationError | None = None
        self.refusal: PortalError | None = None

    def __enter__(self) -> ServiceCall:
        return self

    def __exit__(self, exc_type, exc, traceback) -> bool:
        if exc is None:
            self.ok = True
            return False
        if isinstance(exc, ValidationError):
            self.invalid = exc
            self._show_invalid(exc)
            return True
        if isinstance(exc, PortalError):
            self.refusal = exc
            self._show_refusal(exc)
            return True
        return False  # not a refusal: let it propagate

    @property
    def refusal_message(self) -> str:
        """The refusal's message for the page to show in its own place, or ""."""
        return self.refusal.message if self.refusal is not None else ""

    def _show_invalid(self, exc: ValidationError) -> None:
        if self.form is not None:
            add_service_errors(self.form, exc)
        elif hasattr(exc, "error_dict"):
            # No form to put them beside: one message per field the service named.
            for errors in exc.message_dict.values():
                messages.error(self.request, " ".join(errors))
        else:
            messages.error(self.request, " ".join(exc.messages))

    def _show_refusal(self, exc: PortalError) -> None:
        if self.refusal_shown == "messages":
            messages.error(self.request, exc.message)
        elif self.refusal_shown == "form":
            self.form.add_error(None, exc.message)
        # None: the page shows `call.refusal` itself.


def service_call(request, *, form=None, refusal: RefusalShown = "messages") -> ServiceCall:
    """Run the `with` block as one service call and show what was refused.

    - A `ValidationError` goes beside the fields of `form` that it names (others on top of the
      form); with no form, each field's errors become one error message.
    - A `PortalError` shows its `message`: as an error message (`refusal="messages"`, the
      default), as an error on top of `form` (`refusal="form"`), or not at all
      (`refusal=None`), for the page to show `call.refusal` in its own place.

    Afterwards `call.ok` is True only when the block finished; `call.invalid` and
    `call.refusal` hold what was caught (or None), `call.refusal_message` the refusal's
    message (or "").
    """
    return ServiceCall(request, form=form, refusal=refusal)
