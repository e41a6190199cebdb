"""The one error base the portal's services raise for refusals staff or scripts must read.

A `PortalError` carries a stable `code` (machine-readable), a `message` written for people
(Webex's trackingId included when Webex refused), and, when Webex was the one that refused, the
typed `WebexError` behind it. The API's exception handler and the pages' message helper know
only this base: a new app's errors need no change there.
"""

from __future__ import annotations

from webex.errors import WebexError


class PortalError(Exception):
    """A refusal with a reason. `error` is set when Webex refused (the API answers 502 or, for
    rate limits, 503); otherwise the state of things forbids the action (409)."""

    code = "conflict"

    def __init__(
        self, message: str, error: WebexError | None = None, *, code: str | None = None
    ) -> None:
        self.message = message
        self.error = error
        if code is not None:
            self.code = code
        super().__init__(message)

    @property
    def reason(self) -> str:  # the name the services used before the common base
        return self.message
