"""The service's own errors, in one hierarchy.

Callers catch the class that says what they can do about it: a configuration error
stops a process at start, `Busy` makes a step wait and look again, `Unavailable` is an
outage that a retry outlives, anything else is a bug or a bad input.
"""

from __future__ import annotations


class HintServiceError(Exception):
    """Base class of every error this service raises on purpose."""


class ConfigError(HintServiceError, ValueError):
    """A bad setting or configuration file; the message names the variable or key."""


class Busy(HintServiceError):
    """The work is in someone else's hands right now (a live lease, a full executor):
    look again after `retry_after` seconds. Never counts as a failure of the step."""

    def __init__(self, message: str, retry_after: float = 5.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Unavailable(HintServiceError):
    """A service this one depends on is unreachable for now (an outage, not a bad input)."""


class StepFailed(HintServiceError):
    """A step cannot succeed with what it was given; retrying it will not help."""
