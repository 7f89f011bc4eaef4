"""Posting the final hint to orchestration's save-hint URL (the callback)."""

from __future__ import annotations

from typing import Any

import requests

from hint_core.errors import HintServiceError
from settings import Settings

TIMEOUT_SECONDS = 10


class CallbackFailed(HintServiceError):
    """Orchestration did not take the hint (yet); the step is retried with growing pauses."""


def post_callback(settings: Settings, payload: dict[str, Any]) -> None:
    """POST `payload` to orchestration; raises CallbackFailed unless it answers 2xx."""
    if not settings.save_hint_url:
        raise CallbackFailed("no callback URL is configured (BACKEND_ORCHESTRATION_SAVE_AI_HINT_URL)")
    headers = {"Authorization": f"Bearer {settings.callback_token}"} if settings.callback_token else {}
    try:
        reply = requests.post(settings.save_hint_url, json=payload, headers=headers, timeout=TIMEOUT_SECONDS)
    except requests.RequestException as exc:
        raise CallbackFailed(f"callback to orchestration failed: {type(exc).__name__}") from None
    if not 200 <= reply.status_code < 300:
        raise CallbackFailed(f"callback to orchestration answered HTTP {reply.status_code}")
