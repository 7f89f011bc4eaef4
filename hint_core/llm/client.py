"""The LLM client: any OpenAI-compatible endpoint, with retries, deadlines and accounting.

Transient failures (429, 5xx, timeouts, connection errors, a body that is not a chat
completion) are retried with exponential backoff and jitter, honouring `Retry-After`,
within the phase's attempt budget and total deadline; anything else (400, 401, 403,
404, 422) fails at once. Error messages name the cause and never carry the provider's
text, which may quote the API key.
"""

from __future__ import annotations

import email.utils
import json
import logging
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx2
import openai
from tenacity import RetryCallState, Retrying, retry_if_exception, wait_exponential_jitter

from hint_core.ai_config import PhaseConfig

log = logging.getLogger(__name__)

Messages = list[dict[str, str]]

_TRANSIENT = (openai.RateLimitError, openai.APITimeoutError, openai.APIConnectionError, openai.InternalServerError)

# What a failed status means to the operator; the provider's own text is never shown.
_STATUS_HELP = {
    400: "bad request (check the model name, max_tokens and the prompt size)",
    401: "authentication failed (check OPENAI_API_KEY)",
    403: "permission denied (the key may not have access to this model)",
    404: "not found (check OPENAI_BASE_URL and the model or deployment name)",
    422: "the endpoint rejected the request parameters",
}


class LLMError(Exception):
    """The LLM could not answer; the message names the cause and holds no secret."""

    def __init__(self, message: str, calls: int = 0):
        super().__init__(message)
        self.calls = calls  # HTTP attempts spent before giving up, for cost accounting


class ParseError(ValueError):
    pass


class MalformedResponse(Exception):
    """The endpoint answered 2xx with a body that is not a usable chat completion."""


@dataclass
class LLMReply:
    contents: list[str]
    model: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency: float = 0.0  # wall time of the whole call, retries and backoff included
    calls: int = 0  # HTTP attempts, retries included
    raw: list[dict[str, Any]] = field(default_factory=list)  # the whole responses
    finish_reasons: list[str | None] = field(default_factory=list)


@dataclass
class Usage:
    """What the LLM calls of one phase cost, failed calls included, for the audit trail."""

    model: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    calls: int = 0
    waiting_seconds: float = 0.0
    responses: list[dict[str, Any]] = field(default_factory=list)

    def add(self, reply: LLMReply) -> None:
        self.model = reply.model
        self.prompt_tokens += reply.prompt_tokens
        self.completion_tokens += reply.completion_tokens
        self.calls += reply.calls
        self.waiting_seconds += reply.latency
        self.responses.extend(reply.raw)

    def add_failure(self, exc: LLMError, seconds: float) -> None:
        self.calls += exc.calls
        self.waiting_seconds += seconds


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


class _Wait:
    """Exponential backoff with jitter, or the server's Retry-After when it sends one."""

    def __init__(self, initial: float, maximum: float):
        self.backoff = wait_exponential_jitter(multiplier=initial, max=maximum, jitter=initial)

    def __call__(self, state: RetryCallState) -> float:
        told = retry_after(state.outcome.exception() if state.outcome else None)
        # Never sooner than the server asked; the deadline decides whether we wait at all.
        return told if told is not None else self.backoff(state)


class _Stop:
    """Give up when the attempt budget is spent or the next attempt could not start in time."""

    def __init__(self, max_attempts: int, deadline: float):
        self.max_attempts = max_attempts
        self.deadline = deadline

    def __call__(self, state: RetryCallState) -> bool:
        if state.attempt_number >= self.max_attempts:
            return True
        return time.monotonic() + state.upcoming_sleep >= self.deadline


def make_openai_client(
    api_key: str | None, base_url: str | None, azure_endpoint: str | None = None, api_version: str | None = None
) -> openai.OpenAI:
    """The SDK client: Azure OpenAI when an Azure endpoint is given, else plain OpenAI-compatible.

    Retries are ours (with a deadline), so the SDK's own are switched off.
    """
    # The SDK's HTTP library logs every request at INFO; our own line per call says more.
    for name in ("httpx", "httpx2"):
        logging.getLogger(name).setLevel(logging.WARNING)
    if azure_endpoint:
        # On Azure the phase's `model` is the deployment name.
        return openai.AzureOpenAI(
            api_key=api_key, azure_endpoint=azure_endpoint, api_version=api_version, max_retries=0
        )
    # Local servers (vLLM, Ollama, llama.cpp) accept any key; the SDK insists on one.
    return openai.OpenAI(api_key=api_key or "unused", base_url=base_url, max_retries=0)


@dataclass
class _Answer:
    contents: list[str]
    finish_reasons: list[str | None]
    model: str | None
    prompt_tokens: int
    completion_tokens: int
    raw: dict[str, Any]


def _read_completion(body: bytes) -> _Answer:
    """Check the shape of a chat completion; a body that is not one is transient.

    The JSON body is read directly: it is what the audit trail keeps, and building the
    SDK's typed objects only to dump them again cost more CPU than the rest of a call.
    """
    try:
        response = json.loads(body)
    except ValueError as exc:
        raise MalformedResponse(f"body is not JSON: {type(exc).__name__}") from None
    try:
        choices = response["choices"]
        if not isinstance(choices, list) or not choices:
            raise MalformedResponse("no choices")
        contents = [(c.get("message") or {}).get("content") or "" for c in choices]
        usage = response.get("usage") or {}
        return _Answer(
            contents=[c if isinstance(c, str) else str(c) for c in contents],
            finish_reasons=[c.get("finish_reason") for c in choices],
            model=response.get("model"),
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
            raw=response,
        )
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise MalformedResponse(f"unexpected shape: {type(exc).__name__}") from None


class LLMClient:
    def __init__(
        self,
        api_key: str | None,
        base_url: str | None,
        backoff_initial: float = 0.5,
        backoff_max: float = 20.0,
        azure_endpoint: str | None = None,
        api_version: str | None = None,
    ):
        self._client = make_openai_client(api_key, base_url, azure_endpoint, api_version)
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max

    def ask(
        self, messages: Messages, phase: PhaseConfig, usage: Usage, n: int = 1, request_id: object = None
    ) -> LLMReply:
        """`complete`, with what it cost (or what a failure cost) added to `usage`."""
        started = time.monotonic()
        try:
            reply = self.complete(messages, phase, n=n, request_id=request_id)
        except LLMError as exc:
            usage.add_failure(exc, time.monotonic() - started)
            raise
        usage.add(reply)
        return reply

    def complete(self, messages: Messages, phase: PhaseConfig, n: int = 1, request_id: object = None) -> LLMReply:
        """`n` completions of `messages` within the phase's deadline.

        Some servers ignore `n` and answer one choice: the missing ones are asked for one
        by one, concurrently, within the same deadline; if those fail, the choices already
        in hand are returned.
        """
        started = time.monotonic()
        deadline = started + phase.deadline_seconds
        reply = self._one_call(messages, phase, n, request_id, deadline)
        missing = n - len(reply.contents)
        if missing > 0:
            log.info("request %s: LLM answered %d of %d choices; asking for %d more", request_id,
                     len(reply.contents), n, missing)
            with ThreadPoolExecutor(max_workers=min(missing, 8)) as pool:
                futures = [pool.submit(self._one_call, messages, phase, 1, request_id, deadline) for _ in range(missing)]
            for future in futures:
                try:
                    more = future.result()
                except LLMError as exc:
                    reply.calls += exc.calls
                    continue
                reply.contents.extend(more.contents)
                reply.finish_reasons.extend(more.finish_reasons)
                reply.prompt_tokens += more.prompt_tokens
                reply.completion_tokens += more.completion_tokens
                reply.calls += more.calls
                reply.raw.extend(more.raw)
        reply.latency = time.monotonic() - started
        return reply

    def _one_call(self, messages: Messages, phase: PhaseConfig, n: int, request_id: object, deadline: float) -> LLMReply:
        started = time.monotonic()
        attempts = 0

        def attempt() -> _Answer:
            nonlocal attempts
            attempts += 1
            # One attempt never outlives the phase's deadline.
            timeout = max(0.05, min(phase.timeout_seconds, deadline - time.monotonic()))
            # The client's plain POST (its documented way to send a body as it is): the typed
            # `chat.completions.create` walks every message through its type machinery
            # first, which cost more CPU than the HTTP exchange itself.
            body = {
                "model": phase.model, "messages": messages, "temperature": phase.temperature,
                "n": n, "max_tokens": phase.max_tokens,
            }
            response = self._client.post(
                "/chat/completions", body=body, cast_to=httpx2.Response, options={"timeout": timeout}
            )
            return _read_completion(response.content)

        def log_retry(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            log.warning(
                "request %s: LLM %s attempt %d failed (%s); retrying in %.2fs",
                request_id, phase.model, state.attempt_number, describe(exc) if exc else "?",
                state.next_action.sleep if state.next_action else 0.0,
            )

        retrying = Retrying(
            retry=retry_if_exception(is_transient),
            stop=_Stop(phase.max_attempts, deadline),
            wait=_Wait(self.backoff_initial, self.backoff_max),
            before_sleep=log_retry,
            sleep=time.sleep,
            reraise=True,
        )
        try:
            answer = retrying(attempt)
        except (openai.OpenAIError, MalformedResponse) as exc:
            why = "" if not is_transient(exc) else f" within the {phase.deadline_seconds:g}s deadline"
            message = f"{describe(exc)} (gave up after {attempts} attempt(s){why})"
            log.warning("request %s: LLM %s attempt %d failed for good: %s", request_id, phase.model, attempts, message)
            raise LLMError(message, calls=attempts) from None
        latency = time.monotonic() - started
        log.info(
            "request %s: LLM %s attempt %d answered %d choice(s) in %.2fs (%d+%d tokens)",
            request_id, phase.model, attempts, len(answer.contents), latency,
            answer.prompt_tokens, answer.completion_tokens,
        )
        return LLMReply(
            contents=answer.contents,
            model=answer.model or phase.model,
            prompt_tokens=answer.prompt_tokens,
            completion_tokens=answer.completion_tokens,
            latency=latency,
            calls=attempts,
            raw=[answer.raw],
            finish_reasons=answer.finish_reasons,
        )


# --- parsing answers ----------------------------------------------------------------------

_FENCE = re.compile(r"```[ \t]*([\w+-]*)[ \t]*\n?(.*?)```", re.DOTALL)
# strict=False: models often put raw newlines inside JSON strings (a program, typically).
_DECODER = json.JSONDecoder(strict=False)


def _fenced(text: str, languages: tuple[str, ...] | None = None) -> list[str]:
    return [body for lang, body in _FENCE.findall(text) if languages is None or lang.lower() in languages]


def extract_json_object(text: str) -> dict[str, Any]:
    """The first JSON object in `text`, tolerating code fences and prose around it."""
    if not text or not text.strip():
        raise ParseError("empty answer")
    # Fenced blocks first: prose before a fence may hold braces of its own.
    for chunk in [*_fenced(text), text]:
        for match in re.finditer(r"\{", chunk):
            try:
                value, _ = _DECODER.raw_decode(chunk, match.start())
            except ValueError:
                continue
            if isinstance(value, dict):
                return value
    raise ParseError("no JSON object in the answer")


def _strip_fence(program: str) -> str:
    fenced = _fenced(program)
    return fenced[0] if fenced else program


def parse_program(text: str, key: str) -> str:
    """The program under `key` in an answer, or ParseError saying what is wrong.

    An answer that is only a fenced Python block (local models often ignore the JSON
    instruction) is accepted too: the tests verify every candidate anyway.
    """
    try:
        data = extract_json_object(text)
    except ParseError:
        python = _fenced(text or "", ("python", "py", "python3"))
        if len(python) == 1 and python[0].strip():
            return python[0].strip("\n") + "\n"
        raise
    if key not in data:
        keys = ", ".join(repr(k) for k in list(data)[:5]) or "none"
        raise ParseError(f"answer has no '{key}' key (keys: {keys})")
    program = data[key]
    if not isinstance(program, str) or not program.strip():
        raise ParseError(f"'{key}' is not a non-empty string")
    program = _strip_fence(program).strip("\n")
    if not program.strip():
        raise ParseError(f"'{key}' holds no code")
    return program + "\n"


def parse_hint(text: str) -> tuple[str, str]:
    """(explanation, hint) from an answer, or ParseError."""
    data = extract_json_object(text)
    explanation, hint = data.get("explanation"), data.get("hint")
    if not isinstance(hint, str) or not hint.strip():
        raise ParseError("answer has no non-empty 'hint' string")
    if explanation is not None and not isinstance(explanation, str):
        raise ParseError("'explanation' is not a string")
    return (explanation or "").strip(), hint.strip()
