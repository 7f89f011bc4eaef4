"""HTTP to orchestration: one session per thread, a bearer token, answers as plain data.

Each thread gets its own ``requests.Session`` (sessions are not documented as
thread-safe), so runs from many threads proceed side by side, each reusing its own
connection. ``trust_env`` is off: this library reads no environment variables, and
orchestration is an internal service (no proxy, no ``.netrc`` credentials).

Nothing here decides what an answer means: the executor and the problem client do,
per endpoint. This module only turns network failures into ``NetworkFailure`` with a
cause in a few words that never holds a credential.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests

MAX_CAUSE = 300  # characters of a remote error text kept in a cause


class NetworkFailure(Exception):
    """No HTTP answer at all: refused, dropped, timed out."""

    def __init__(self, cause: str) -> None:
        super().__init__(cause)
        self.cause = cause


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any  # the decoded JSON, or None when the body is not JSON

    def field(self, key: str) -> Any:
        return self.body.get(key) if isinstance(self.body, dict) else None

    def error_text(self) -> str | None:
        """The ``error`` (or Django's ``detail``) the body carries, bounded; None if none."""
        if not isinstance(self.body, dict):
            return None
        for key in ("error", "detail"):
            if key in self.body:
                return bounded(str(self.body[key]))
        return None

    def describe(self) -> str:
        """``HTTP 502: problem handler unreachable``: for causes and logs."""
        error = self.error_text()
        return f"HTTP {self.status}" + (f": {error}" if error else "")


def bounded(text: str, limit: int = MAX_CAUSE) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def safe_url(url: str) -> str:
    """The URL without user info, query or fragment: what logs and messages may show."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def check_url(url: str, name: str) -> str:
    """``url`` if it is an absolute http(s) URL, else ValueError naming ``name``."""
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{name} must be an absolute http(s) URL, got {safe_url(url or '')!r}")
    return url


def _network_cause(exc: requests.RequestException) -> str:
    # Words, not str(exc): requests' texts are long and name the full URL with its query.
    text = str(exc).lower()
    if isinstance(exc, requests.ConnectTimeout):
        return "connection timed out"
    if isinstance(exc, requests.Timeout):
        return "no answer in time"
    if isinstance(exc, requests.ConnectionError):
        if "refused" in text:
            return "connection refused"
        if any(word in text for word in ("aborted", "reset", "disconnected", "closed")):
            return "connection closed without an answer"
        return "connection failed"
    return f"request failed ({type(exc).__name__})"


class OrchestrationHttp:
    def __init__(self, token: str | None = None, connect_timeout: float = 3.0) -> None:
        self._token = token
        self._connect_timeout = connect_timeout
        self._local = threading.local()

    def __repr__(self) -> str:  # no token in a repr that ends up in a log or a traceback
        return f"OrchestrationHttp(token={'set' if self._token else 'none'})"

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.trust_env = False
            if self._token:
                session.headers["Authorization"] = f"Bearer {self._token}"
            self._local.session = session
        return session

    def get(self, url: str, params: dict[str, str], timeout: float) -> Answer:
        return self._call("GET", url, timeout, params=params)

    def post(self, url: str, payload: dict[str, Any], timeout: float) -> Answer:
        return self._call("POST", url, timeout, json=payload)

    def _call(self, method: str, url: str, timeout: float, **kwargs: Any) -> Answer:
        try:
            reply = self._session().request(method, url, timeout=(self._connect_timeout, timeout), **kwargs)
            content = reply.content  # read the whole body here, so a dropped body is a network failure
        except requests.RequestException as exc:
            raise NetworkFailure(_network_cause(exc)) from None
        try:
            body = json.loads(content) if content else None
        except (ValueError, UnicodeDecodeError):
            body = None
        return Answer(reply.status_code, body)
