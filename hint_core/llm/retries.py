"""When an LLM call is tried again, how long to wait, and how a failure is described.

Transient failures (429, 408, 409, 5xx, timeouts, connection errors, a body that is not a
chat completion) are retried with exponential backoff and jitter, honouring `Retry-After`,
within the phase's attempt budget and total deadline; anything else (400, 401, 403,
404, 422) fails at once. Descriptions name the cause and never carry the provider's
text, which may quote the API key.
"""

from __future__ import annotations

import email.utils
import time

import openai
from tenacity import RetryCallState, wait_exponential_jitter

_TRANSIENT = (
    openai.RateLimitError, openai.APITimeoutError, openai.APIConnectionError, openai.InternalServerError
)

# What a failed status means to the operator; the provider's own text is never shown.
_STATUS_HELP = {
    400: "bad request (check the model name, max_tokens, the prompt size, and json_output: false "
         "for a provider that does not accept response_format)",
    401: "authentication failed (check OPENAI_API_KEY)",
    403: "permission denied (the key may not have access to this model)",
    404: "not found (check OPENAI_BASE_URL and the model or deployment name)",
    422: "the endpoint rejected the request parameters (json_output: false if it rejects response_format)",
}


class LLMError(Exception):
    """The LLM could not answer; the message names the cause and holds no secret."""

    def __init__(self, message: str, calls: int = 0) -> None:
        super().__init__(message)
        self.calls = calls  # HTTP attempts spent before giving up, for cost accounting


class MalformedResponse(Exception):
    """The endpoint answered 2xx with a body that is not a usable chat completion."""


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, MalformedResponse):
        return True
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code in (408, 409, 429) or exc.status_code >= 500
    return isinstance(exc, _TRANSIENT)


def retry_after(exc: BaseException | None) -> float | None:
    """Seconds the server asked us to wait (`retry-after-ms`, `Retry-After` seconds or date)."""
    response = getattr(exc, "response", None)
    if response is None:
        return None
    headers = response.headers
    try:
        if headers.get("retry-after-ms") is not None:
            return max(0.0, float(headers["retry-after-ms"]) / 1000)
        value = headers.get("retry-after")
        if value is None:
            return None
        try:
            return max(0.0, float(value))
        except ValueError:
            when = email.utils.parsedate_to_datetime(value)
            return max(0.0, when.timestamp() - time.time())
    except (TypeError, ValueError, OverflowError):
        return None


def describe(exc: BaseException) -> str:
    """The cause of a failure in words safe to log, store and show."""
    if isinstance(exc, openai.APIStatusError):
        help_text = _STATUS_HELP.get(exc.status_code)
        if exc.status_code == 429:
            help_text = "rate limited"
        elif exc.status_code >= 500:
            help_text = "server error"
        return f"HTTP {exc.status_code} from the LLM endpoint" + (f": {help_text}" if help_text else "")
    if isinstance(exc, openai.APITimeoutError):
        return "the LLM endpoint timed out"
    if isinstance(exc, openai.APIConnectionError):
        return "could not connect to the LLM endpoint"
    if isinstance(exc, MalformedResponse):
        return f"malformed answer from the LLM endpoint ({exc})"
    return type(exc).__name__


class Wait:
    """Exponential backoff with jitter, or the server's Retry-After when it sends one."""

    def __init__(self, initial: float, maximum: float) -> None:
        self.backoff = wait_exponential_jitter(multiplier=initial, max=maximum, jitter=initial)

    def __call__(self, state: RetryCallState) -> float:
        told = retry_after(state.outcome.exception() if state.outcome else None)
        # Never sooner than the server asked; the deadline decides whether we wait at all.
        return told if told is not None else self.backoff(state)


class Stop:
    """Give up when the attempt budget is spent or the next attempt could not start in time."""

    def __init__(self, max_attempts: int, deadline: float) -> None:
        self.max_attempts = max_attempts
        self.deadline = deadline

    def __call__(self, state: RetryCallState) -> bool:
        if state.attempt_number >= self.max_attempts:
            return True
        return time.monotonic() + state.upcoming_sleep >= self.deadline
