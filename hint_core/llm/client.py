"""The LLM client: chat completions from any OpenAI-compatible endpoint, within a deadline.

One call asks for `n` choices; a server that ignores `n` gets the missing ones asked for
concurrently. Retries follow `hint_core.llm.retries`; what each call cost is a `Usage`
(`hint_core.llm.usage`). With the phase's `json_output` on, the request asks for a JSON
object (`response_format`), as the original backend did.
"""

from __future__ import annotations

import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx2
import openai
from tenacity import RetryCallState, Retrying, retry_if_exception

from hint_core.ai_config import PhaseConfig
from hint_core.llm.retries import LLMError, MalformedResponse, Stop, Wait, describe, is_transient
from hint_core.llm.usage import Usage

# One logger for the whole LLM layer, whatever module logs: operators filter on it.
log = logging.getLogger("hint_core.llm")

Messages = list[dict[str, str]]


@dataclass
class LLMReply:
    contents: list[str]
    usage: Usage  # the whole call: retries, extra calls and waiting included
    finish_reasons: list[str | None] = field(default_factory=list)


def make_openai_client(
    api_key: str | None, base_url: str | None, azure_endpoint: str | None = None,
    api_version: str | None = None,
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


def _read_completion(body: bytes) -> LLMReply:
    """The choices and usage of a chat completion; a body that is not one is transient.

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
        tokens = response.get("usage") or {}
        usage = Usage(
            model=response.get("model"),
            prompt_tokens=int(tokens.get("prompt_tokens") or 0),
            completion_tokens=int(tokens.get("completion_tokens") or 0),
            responses=[response],
        )
        return LLMReply(
            contents=[c if isinstance(c, str) else str(c) for c in contents],
            usage=usage,
            finish_reasons=[c.get("finish_reason") for c in choices],
        )
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise MalformedResponse(f"unexpected shape: {type(exc).__name__}") from None


def request_body(messages: Messages, phase: PhaseConfig, n: int) -> dict[str, Any]:
    """What one chat-completion request sends."""
    body: dict[str, Any] = {
        "model": phase.model, "messages": messages, "temperature": phase.temperature,
        "n": n, "max_tokens": phase.max_tokens,
    }
    if phase.json_output:
        body["response_format"] = {"type": "json_object"}
    return body


class LLMClient:
    def __init__(
        self,
        api_key: str | None,
        base_url: str | None,
        backoff_initial: float = 0.5,
        backoff_max: float = 20.0,
        azure_endpoint: str | None = None,
        api_version: str | None = None,
    ) -> None:
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
            usage.add_failure(exc.calls, time.monotonic() - started)
            raise
        usage.add(reply.usage)
        return reply

    def complete(
        self, messages: Messages, phase: PhaseConfig, n: int = 1, request_id: object = None
    ) -> LLMReply:
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
                futures = [
                    pool.submit(self._one_call, messages, phase, 1, request_id, deadline)
                    for _ in range(missing)
                ]
            for future in futures:
                try:
                    more = future.result()
                except LLMError as exc:
                    reply.usage.add_failure(exc.calls, 0.0)
                    continue
                reply.contents.extend(more.contents)
                reply.finish_reasons.extend(more.finish_reasons)
                reply.usage.add(more.usage)
        # The extra calls ran side by side: the call waited as long as the wall clock says.
        reply.usage.waiting_seconds = time.monotonic() - started
        return reply

    def _one_call(
        self, messages: Messages, phase: PhaseConfig, n: int, request_id: object, deadline: float
    ) -> LLMReply:
        started = time.monotonic()
        attempts = 0
        body = request_body(messages, phase, n)

        def attempt() -> LLMReply:
            nonlocal attempts
            attempts += 1
            # One attempt never outlives the phase's deadline.
            timeout = max(0.05, min(phase.timeout_seconds, deadline - time.monotonic()))
            # The client's plain POST (its documented way to send a body as it is): the typed
            # `chat.completions.create` walks every message through its type machinery
            # first, which cost more CPU than the HTTP exchange itself.
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
            stop=Stop(phase.max_attempts, deadline),
            wait=Wait(self.backoff_initial, self.backoff_max),
            before_sleep=log_retry,
            sleep=time.sleep,
            reraise=True,
        )
        try:
            reply = retrying(attempt)
        except (openai.OpenAIError, MalformedResponse) as exc:
            why = "" if not is_transient(exc) else f" within the {phase.deadline_seconds:g}s deadline"
            message = f"{describe(exc)} (gave up after {attempts} attempt(s){why})"
            log.warning("request %s: LLM %s attempt %d failed for good: %s",
                        request_id, phase.model, attempts, message)
            raise LLMError(message, calls=attempts) from None
        reply.usage.model = reply.usage.model or phase.model
        reply.usage.calls = attempts
        reply.usage.waiting_seconds = time.monotonic() - started
        log.info(
            "request %s: LLM %s attempt %d answered %d choice(s) in %.2fs (%d+%d tokens)",
            request_id, phase.model, attempts, len(reply.contents), reply.usage.waiting_seconds,
            reply.usage.prompt_tokens, reply.usage.completion_tokens,
        )
        return reply
