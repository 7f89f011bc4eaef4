"""Who may call what: the API's one access rule, decided before any route runs.

- The probes answer anyone (they reveal nothing and need no database).
- A valid bearer token (`HINT_API_TOKEN`, one or several during a rotation) opens the API.
- The calls orchestration makes (add_request, add_reflection, query_hint; and the
  OpenAPI document and metrics, which hold no student data) are also open to the
  addresses of `HINT_API_ALLOW_FROM` (the original orchestration sends no token), and to
  anyone when neither a token nor an allow-list is set: an API on loopback only, or one
  whose operator said `HINT_API_ALLOW_ANONYMOUS=true`.
- Everything else (the trace: programs, hidden tests, prompts, other students' data;
  the operator's re-run, which spends LLM money) needs a token, always: never the
  allow-list, never anonymous.
The console (`/console/`) has its own credentials and is not governed here.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from ipaddress import ip_address

from settings import Settings

PUBLIC = frozenset({"health.healthz", "health.readyz"})
ORCHESTRATION = frozenset({
    "ai_hint.add_request", "ai_hint.add_reflection", "ai_hint.query_hint", "spec.openapi_json", "spec.openapi_yaml",
    "metrics.metrics",
})


@dataclass(frozen=True)
class Refusal:
    status: int
    error: str


def _token_ok(settings: Settings, authorization: str | None) -> bool:
    given = (authorization or "").encode()
    # Constant time per token: how much of a guess matched must not show in the timing.
    return any(hmac.compare_digest(given, f"Bearer {token}".encode()) for token in settings.api_tokens)


def _allowed_address(settings: Settings, remote_addr: str | None) -> bool:
    try:
        address = ip_address(remote_addr or "")
    except ValueError:
        return False
    return any(address in network for network in settings.api_allow_from)


def refusal(settings: Settings, endpoint: str | None, remote_addr: str | None,
            authorization: str | None) -> Refusal | None:
    """None when the call may go ahead; otherwise the status and the reason to answer."""
    if endpoint in PUBLIC or _token_ok(settings, authorization):
        return None
    open_to_all = not settings.api_tokens and not settings.api_allow_from
    if endpoint in ORCHESTRATION and (open_to_all or _allowed_address(settings, remote_addr)):
        return None
    if not settings.api_tokens:
        return Refusal(403, "this call needs a bearer token, and none is configured (HINT_API_TOKEN)")
    return Refusal(401, "missing or wrong bearer token")
