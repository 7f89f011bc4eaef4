"""The LLM client: any OpenAI-compatible endpoint, with retries, deadlines and accounting.

Transient failures (429, 5xx, timeouts, connection errors) are retried with exponential
backoff and jitter, honouring `Retry-After`, until the phase's deadline; anything else
(400, 401, 403, 404) fails at once with a message safe to store and show.
"""

from __future__ import annotations

import json
import logging
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import openai
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_delay,
    wait_exponential_jitter,
)

from hint_core.ai_config import PhaseConfig

log = logging.getLogger(__name__)

Messages = list[dict[str, str]]

_TRANSIENT = (openai.RateLimitError, openai.APITimeoutError, openai.APIConnectionError, openai.InternalServerError)


class LLMError(Exception):
    """The LLM could not answer; the message names the cause and holds no secret."""


class ParseError(ValueError):
    pass


@dataclass
class LLMReply:
    contents: list[str]
    model: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency: float = 0.0
    calls: int = 0  # HTTP attempts, retries included
    raw: list[dict[str, Any]] = field(default_factory=list)  # the whole responses


def _is_transient(exc: BaseException) -> bool:
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code == 429 or exc.status_code >= 500
    return isinstance(exc, _TRANSIENT)


def _retry_after(exc: BaseException | None) -> float | None:
    response = getattr(exc, "response", None)
    if response is None:
        return None
    value = response.headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


class _Wait:
    """Exponential backoff with jitter, or the server's Retry-After when it sends one."""

    def __init__(self, initial: float, maximum: float):
        self.backoff = wait_exponential_jitter(initial=initial, max=maximum, jitter=initial)
        self.maximum = maximum

    def __call__(self, state: RetryCallState) -> float:
        told = _retry_after(state.outcome.exception() if state.outcome else None)
        if told is not None:
            return min(told, self.maximum)
        return self.backoff(state)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, openai.APIStatusError):
        return f"HTTP {exc.status_code} from the LLM endpoint"
    if isinstance(exc, openai.APITimeoutError):
        return "the LLM endpoint timed out"
    if isinstance(exc, openai.APIConnectionError):
        return "could not connect to the LLM endpoint"
    return type(exc).__name__


class LLMClient:
    def __init__(
        self,
        api_key: str | None,
        base_url: str | None,
        backoff_initial: float = 0.5,
        backoff_max: float = 20.0,
    ):
        # Local servers (vLLM, Ollama, llama.cpp) accept any key; the client insists on one.
        self._client = openai.OpenAI(api_key=api_key or "unused", base_url=base_url, max_retries=0)
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max

    def complete(
        self, messages: Messages, phase: PhaseConfig, n: int = 1, request_id: object = None
    ) -> LLMReply:
        """`n` completions of `messages`; fewer choices than asked are made up by extra calls."""
        reply = self._one_call(messages, phase, n, request_id)
        missing = n - len(reply.contents)
        if missing > 0 and reply.contents:
            # Some servers ignore `n`: ask for the rest one by one, at the same time.
            with ThreadPoolExecutor(max_workers=min(missing, 8)) as pool:
                extra = list(pool.map(lambda _: self._one_call(messages, phase, 1, request_id), range(missing)))
            for more in extra:
                reply.contents.extend(more.contents)
                reply.prompt_tokens += more.prompt_tokens
                reply.completion_tokens += more.completion_tokens
                reply.calls += more.calls
                reply.raw.extend(more.raw)
                reply.latency = max(reply.latency, more.latency)
        return reply

    def _one_call(self, messages: Messages, phase: PhaseConfig, n: int, request_id: object) -> LLMReply:
        started = time.monotonic()
        attempts = 0

        def attempt() -> Any:
            nonlocal attempts
            attempts += 1
            remaining = phase.deadline_seconds - (time.monotonic() - started)
            timeout = max(1.0, min(phase.timeout_seconds, remaining))
            return self._client.chat.completions.create(
                model=phase.model,
                messages=messages,
                temperature=phase.temperature,
                n=n,
                max_tokens=phase.max_tokens,
                timeout=timeout,
            )

        def log_retry(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            log.warning(
                "request %s: LLM attempt %d failed (%s); retrying in %.1fs",
                request_id, state.attempt_number, _describe(exc) if exc else "?",
                state.next_action.sleep if state.next_action else 0.0,
            )

        retrying = Retrying(
            retry=retry_if_exception(_is_transient),
            stop=stop_after_delay(phase.deadline_seconds),
            wait=_Wait(self.backoff_initial, self.backoff_max),
            before_sleep=log_retry,
            reraise=True,
        )
        try:
            response = retrying(attempt)
        except openai.OpenAIError as exc:
            log.warning("request %s: LLM call failed after %d attempt(s): %s", request_id, attempts, _describe(exc))
            raise LLMError(f"{_describe(exc)} (after {attempts} attempt(s))") from None
        latency = time.monotonic() - started
        usage = response.usage
        contents = [c.message.content or "" for c in response.choices if c.message is not None]
        log.info(
            "request %s: LLM %s answered %d choice(s) in %.2fs after %d attempt(s)",
            request_id, phase.model, len(contents), latency, attempts,
        )
        return LLMReply(
            contents=contents,
            model=response.model or phase.model,
            prompt_tokens=getattr(usage, "prompt_tokens", 0) or 0,
            completion_tokens=getattr(usage, "completion_tokens", 0) or 0,
            latency=latency,
            calls=attempts,
            raw=[response.model_dump(mode="json")],
        )


_FENCE = re.compile(r"```(?:json|python|py)?\s*\n?(.*?)```", re.DOTALL | re.IGNORECASE)


def extract_json_object(text: str) -> dict[str, Any]:
    """The first JSON object in `text`, tolerating code fences and prose around it."""
    if not text or not text.strip():
        raise ParseError("empty answer")
    candidates = [text] + _FENCE.findall(text)
    decoder = json.JSONDecoder()
    for chunk in candidates:
        for start in (m.start() for m in re.finditer(r"\{", chunk)):
            try:
                value, _ = decoder.raw_decode(chunk, start)
            except ValueError:
                continue
            if isinstance(value, dict):
                return value
    raise ParseError("no JSON object in the answer")


def parse_program(text: str, key: str) -> str:
    """The program under `key` in an answer, or ParseError saying what is wrong."""
    data = extract_json_object(text)
    if key not in data:
        raise ParseError(f"answer has no '{key}' key")
    program = data[key]
    if not isinstance(program, str) or not program.strip():
        raise ParseError(f"'{key}' is not a non-empty string")
    fenced = _FENCE.findall(program)
    return (fenced[0] if fenced else program).strip("\n") + "\n"


def parse_hint(text: str) -> tuple[str, str]:
    """(explanation, hint) from an answer, or ParseError."""
    data = extract_json_object(text)
    explanation, hint = data.get("explanation"), data.get("hint")
    if not isinstance(hint, str) or not hint.strip():
        raise ParseError("answer has no non-empty 'hint' string")
    if explanation is not None and not isinstance(explanation, str):
        raise ParseError("'explanation' is not a string")
    return (explanation or "").strip(), hint.strip()
