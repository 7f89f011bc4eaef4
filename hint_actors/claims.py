"""Claims on a step's costly work, so a message delivered twice never pays for it twice.

RabbitMQ delivers at least once: a message comes again when a worker dies, when the
broker restarts, or when the sweep re-sends a step that looked stalled. Checking that
the step's result exists is not enough for the LLM steps, because the result only
exists once the call has returned. So a step *claims* its work (a committed row) before
the call; a second delivery that finds a live claim leaves the work alone, and one that
finds an expired claim (the worker died) takes it over.

Claims taken by a step that then fails are released by the `ReleaseClaims` middleware
(hint_actors/broker.py),
so Dramatiq's retry of the same message can claim the work again at once.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading

from models import StepClaim, utcnow

log = logging.getLogger("hint.claims")

_held = threading.local()  # the claims this thread took while processing one message

# The callback waits at most 10 s for orchestration; a claim this old is a dead worker's.
CALLBACK_CLAIM_SECONDS = 30.0


def holder() -> str:
    """This worker thread, as it appears in the claims table and in logs."""
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_native_id()}"


def llm_claim_seconds(deadline_seconds: float, timeout_seconds: float, calls: int = 1) -> float:
    """How long a live worker may take over one LLM phase of `calls` sequential calls.

    The client retries until the phase deadline, and its last attempt may start just
    before the deadline and run for a whole timeout; the margin covers the work around
    the calls. Past this, the worker is gone (the actor's time limit would have stopped it).
    """
    return calls * (deadline_seconds + timeout_seconds) * 1.2 + 5.0


def _key(request_pk: int, step: str, attempt: int):  # noqa: ANN202 - a peewee expression
    return (StepClaim.request == request_pk) & (StepClaim.step == step) & (StepClaim.attempt == attempt)


def claim(request_pk: int, step: str, ttl_seconds: float, attempt: int = 1) -> bool:
    """Claim a step's work for this thread; False while another worker's claim is live."""
    now = utcnow()
    expires = now + dt.timedelta(seconds=ttl_seconds)
    me = holder()
    # One statement: a claim already there (live or not) leaves this insert a no-op.
    inserted = StepClaim.insert(
        request=request_pk, step=step, attempt=attempt, holder=me, claimed_at=now, expires_at=expires
    ).on_conflict_ignore().as_rowcount().execute()
    if not inserted:
        previous = StepClaim.get_or_none(_key(request_pk, step, attempt))
        taken = (
            StepClaim.update(holder=me, claimed_at=now, expires_at=expires, takeovers=StepClaim.takeovers + 1)
            .where(_key(request_pk, step, attempt) & (StepClaim.expires_at < now))
            .execute()
        )
        if not taken:
            return False
        log.warning(
            "request pk %s: %s taken over from %s, whose claim expired",
            request_pk, step, previous.holder if previous else "a released claim",
        )
    held = getattr(_held, "claims", None)
    if held is None:
        held = _held.claims = []
    held.append((request_pk, step, attempt, me))
    return True


def live(request_pk: int, step: str, now: dt.datetime | None = None) -> bool:
    """Is someone working on this step (any attempt) right now: a claim not yet expired?"""
    now = now or utcnow()
    mine = (StepClaim.request == request_pk) & (StepClaim.step == step)
    return StepClaim.select().where(mine & (StepClaim.expires_at >= now)).exists()


Held = tuple[int, str, int, str]  # request pk, step, attempt, holder


def release(held: list[Held]) -> None:
    """Give up claims (their step failed), so the step's retry may claim the work again."""
    for request_pk, step, attempt, me in held:
        StepClaim.delete().where(_key(request_pk, step, attempt) & (StepClaim.holder == me)).execute()


def forget_held() -> list[Held]:
    """The claims this thread took since the last call; they stay in the table as a record."""
    held = getattr(_held, "claims", None) or []
    _held.claims = []
    return held


def claim_llm_phase(request_pk: int, step: str, phase: object, attempt: int = 1) -> bool:
    """Claim an LLM step for as long as its phase configuration lets a live worker take."""
    # One call per attempt: a cascade's escalation is its own attempt with its own claim.
    ttl = llm_claim_seconds(phase.deadline_seconds, phase.timeout_seconds)  # type: ignore[attr-defined]
    return claim(request_pk, step, ttl, attempt)
