"""Who may read the console: instructor tokens, by login form (a signed session cookie) or
as a bearer token for scripts. Nothing here knows about HINT_API_TOKEN: the console and
the API have separate credentials, and neither opens the other.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer

COOKIE = "hint_console"
COOKIE_PATH = "/console"
SESSION_SECONDS = 12 * 3600  # a working day; then log in again


@dataclass(frozen=True)
class Session:
    """What the signed cookie carries: a CSRF token, and which token logged in (None: not logged in)."""

    csrf: str
    fingerprint: str | None = None


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


def token_matches(given: str, tokens: tuple[str, ...]) -> bool:
    """True when `given` is one of `tokens`, in constant time.

    Digests first so the comparison is of equal lengths (compare_digest reveals a length
    mismatch), and every token is compared so the time does not say which one matched.
    """
    found = False
    wanted = _digest(given)
    for token in tokens:
        found |= hmac.compare_digest(wanted, _digest(token))
    return found and bool(given)


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, or None without one."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


class Sessions:
    """Signs and reads the console's session cookie with the console's own secret."""

    def __init__(self, secret_key: str, tokens: tuple[str, ...]) -> None:
        self._serializer = URLSafeTimedSerializer(secret_key, salt="hint-console-session")
        self._secret = secret_key.encode()
        self._tokens = tokens

    def fingerprint(self, token: str) -> str:
        """Names a token in the cookie without holding it; a token removed from
        HINT_CONSOLE_TOKENS ends the sessions it opened."""
        return hmac.new(self._secret, token.encode(), hashlib.sha256).hexdigest()

    def new(self, token: str | None = None) -> Session:
        """A fresh session (a new CSRF token each time, so logging in rotates it)."""
        return Session(csrf=secrets.token_urlsafe(32), fingerprint=self.fingerprint(token) if token else None)

    def dump(self, session: Session) -> str:
        return self._serializer.dumps({"csrf": session.csrf, "fp": session.fingerprint})

    def load(self, cookie: str | None) -> Session | None:
        """The cookie's session, or None when it is missing, forged, expired or malformed."""
        if not cookie:
            return None
        try:
            data = self._serializer.loads(cookie, max_age=SESSION_SECONDS)
        except BadSignature:  # also covers an expired signature
            return None
        if not isinstance(data, dict) or not isinstance(data.get("csrf"), str):
            return None
        fingerprint = data.get("fp")
        return Session(csrf=data["csrf"], fingerprint=fingerprint if isinstance(fingerprint, str) else None)

    def logged_in(self, session: Session | None) -> bool:
        """True when the session was opened by a token that is still configured."""
        if session is None or session.fingerprint is None:
            return False
        current = {self.fingerprint(token) for token in self._tokens}
        return any(hmac.compare_digest(session.fingerprint, fp) for fp in current)


def csrf_ok(session: Session | None, given: str | None) -> bool:
    return session is not None and bool(given) and hmac.compare_digest(session.csrf, given or "")
