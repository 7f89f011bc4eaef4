"""Keeping secrets out of what people read: error messages, logs, responses."""

from __future__ import annotations

import re
from collections.abc import Iterable

_URL_PASSWORD = re.compile(r"(://[^:/@\s]+:)[^@\s]+@")


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with every secret replaced by *** and any URL's password masked."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return _URL_PASSWORD.sub(r"\1***@", text)


def safe_cause(text: str | None, secrets: Iterable[str] = (), limit: int = 300) -> str:
    """The last line of an error, bounded and without secrets, for a message shown to people."""
    lines = (text or "").strip().splitlines()
    return redact(lines[-1][:limit] if lines else "unknown error", secrets)
