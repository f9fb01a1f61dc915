"""Sorting provider exceptions into failure classes the router and the user can act on."""

from __future__ import annotations

import asyncio
import time
from email.utils import parsedate_to_datetime

from playground.base.records import Failure

MAX_RETRY_AFTER_S = 60.0


_CONNECT_ERRORS = {"APIConnectionError", "ConnectError", "ConnectTimeout", "ClientConnectorError",
                   "ConnectionRefusedError", "ServerDisconnectedError"}


def _never_connected(exc: BaseException) -> bool:
    """LiteLLM reports a refused connection as HTTP 500 "Connection error."; the cause chain tells."""
    seen = 0
    current: BaseException | None = exc
    while current is not None and seen < 10:
        if type(current).__name__ in _CONNECT_ERRORS:
            return True
        current = current.__cause__ or current.__context__
        seen += 1
    return "Connection error." in str(exc)


def classify(exc: BaseException) -> tuple[Failure, int | None]:
    """(failure class, HTTP status) for an exception raised by a LiteLLM call."""
    import litellm
    from litellm.exceptions import MidStreamFallbackError

    status = getattr(exc, "status_code", None)
    status = status if isinstance(status, int) else None
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError, litellm.Timeout)):
        return Failure.TIMEOUT, status
    if _never_connected(exc) and not isinstance(exc, MidStreamFallbackError):
        return Failure.CONNECTION, None
    if isinstance(exc, litellm.ContextWindowExceededError):
        return Failure.CONTEXT_WINDOW, status
    if isinstance(exc, litellm.RateLimitError):
        return Failure.RATE_LIMITED, status
    if isinstance(exc, (litellm.AuthenticationError, litellm.PermissionDeniedError)):
        return Failure.AUTH, status
    if isinstance(exc, MidStreamFallbackError):
        return Failure.STREAM_ERROR, status
    if isinstance(exc, (litellm.BadRequestError, litellm.NotFoundError, litellm.UnprocessableEntityError)):
        return Failure.BAD_REQUEST, status
    if isinstance(exc, litellm.APIConnectionError):
        # LiteLLM wraps invalid JSON bodies as connection errors too.
        if "JSON" in str(exc) or "Expecting" in str(exc):
            return Failure.BAD_RESPONSE, status
        return Failure.CONNECTION, status
    if status is not None:
        if status == 429:
            return Failure.RATE_LIMITED, status
        if status in (401, 403):
            return Failure.AUTH, status
        if status >= 500:
            return Failure.SERVER_ERROR, status
        if status >= 400:
            return Failure.BAD_REQUEST, status
    if isinstance(exc, (ConnectionError, OSError)):
        return Failure.CONNECTION, status
    return Failure.UNKNOWN, status


def retry_after(exc: BaseException) -> float | None:
    """Seconds from a Retry-After header (delta or HTTP date), capped so a hostile value can't stall us."""
    # LiteLLM keeps the provider's headers on the exception; its `response` is often a bare stand-in.
    value = None
    for headers in (getattr(exc, "litellm_response_headers", None), getattr(exc, "headers", None),
                    getattr(getattr(exc, "response", None), "headers", None)):
        if headers is not None and hasattr(headers, "get") and (value := headers.get("retry-after")):
            break
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError):
            return None
    return max(0.0, min(seconds, MAX_RETRY_AFTER_S))
