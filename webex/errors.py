"""Typed Webex failures. Every one carries the HTTP status, Webex's message and `trackingId`.

Messages never include request bodies or headers: those hold tokens and client secrets.
"""

from __future__ import annotations


class WebexError(Exception):
    """Base of every failure talking to Webex."""

    #: True when the same request may succeed later without any change (caller may reschedule).
    transient = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        tracking_id: str | None = None,
        retry_after: float | None = None,
        retry_after_sent: bool | None = None,
        errors: list[str] | None = None,
        code: str | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        self.message = message
        self.status = status
        self.tracking_id = tracking_id
        self.retry_after = retry_after
        # Did Webex send the wait (a Retry-After header), or is `retry_after` our default?
        self.retry_after_sent = (
            retry_after is not None if retry_after_sent is None else retry_after_sent
        )
        self.errors = errors or []
        self.code = code
        self.method = method
        self.path = path
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.method} {self.path}: " if self.method and self.path else ""
        status = f"{self.status} " if self.status is not None else ""
        extra = [e for e in self.errors if e != self.message]
        details = f" ({'; '.join(extra)})" if extra else ""
        tracking = f" [trackingId {self.tracking_id}]" if self.tracking_id else ""
        return f"{where}{status}{self.message}{details}{tracking}"


class WebexClientError(WebexError):
    """A 4xx without a more specific class (405, 410, 415, 428, ...)."""


class WebexValidationError(WebexClientError):
    """400: Webex refused the input. The message names the field."""


class WebexInvalidGrant(WebexValidationError):
    """400 `invalid_grant`: the refresh token is expired or revoked; reauthorization needed."""


class WebexUnauthorized(WebexClientError):
    """401: the token is unknown, expired or revoked."""


class WebexForbidden(WebexClientError):
    """403: the token is valid but not allowed (e.g. the org no longer authorizes the app)."""


class WebexNotFound(WebexClientError):
    """404 (and 410): the resource does not exist, or is not visible with this token."""


class WebexConflict(WebexClientError):
    """409: the request conflicts with the resource's current state."""


class WebexRateLimited(WebexError):
    """429, or 423 with Retry-After: wait `retry_after` seconds (15 when Webex gave none)."""

    transient = True


class WebexServerError(WebexError):
    """5xx: Webex failed; idempotent calls were already retried."""

    transient = True


class WebexTransportError(WebexError):
    """No HTTP answer: timeout, connection refused or reset."""

    transient = True


_BY_STATUS: dict[int, type[WebexError]] = {
    400: WebexValidationError,
    401: WebexUnauthorized,
    403: WebexForbidden,
    404: WebexNotFound,
    409: WebexConflict,
    410: WebexNotFound,
    423: WebexRateLimited,
    429: WebexRateLimited,
}


def error_class_for(status: int, code: str | None = None) -> type[WebexError]:
    if status == 400 and code == "invalid_grant":
        return WebexInvalidGrant
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    if status >= 500:
        return WebexServerError
    return WebexClientError
