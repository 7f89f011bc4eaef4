"""The periodic sweep: nothing stays pending forever.

One worker process at a time holds the sweep lease (a row renewed with a conditional
update, so it works on SQLite and PostgreSQL alike). The sweep ends requests past their
deadline with a failed hint, lets requests whose reflection never came go ahead, and
re-sends the next message of requests that stopped moving (a message lost with a
crashed worker, a restarted broker, or a worker killed between its commit and its
send). Every step is idempotent, so a re-sent message that was not lost after all does
no harm.

"Stopped moving" depends on the step a request waits for. An LLM step holds a claim
for as long as its phase may take (see claims.py): while the claim is live the request
is not stalled however long the call takes, and once it expires (the worker died) the
step is re-sent and taken over at once. Every other step (a program run, a queued
message) shows progress within STALL_SECONDS or is re-sent.
"""

from __future__ import annotations

import datetime as dt
import logging

from peewee import IntegrityError

from hint_actors import claims, steps
from hint_actors.steps import Next
from models import EnhancedProgram, Hint, Reflection, Request, SweepLease, utcnow, write_transaction

log = logging.getLogger("hint.sweep")

LEASE = "sweep"


def acquire_lease(holder: str, ttl_seconds: float) -> bool:
    """Take or renew the sweep lease; True while this holder has it."""
    now = utcnow()
    expires = now + dt.timedelta(seconds=ttl_seconds)
    taken = (
        SweepLease.update(holder=holder, expires_at=expires)
        .where((SweepLease.name == LEASE) & ((SweepLease.holder == holder) | (SweepLease.expires_at < now)))
        .execute()
    )
    if taken:
        return True
    try:
        with write_transaction():
            SweepLease.create(name=LEASE, holder=holder, expires_at=expires)
        return True
    except IntegrityError:
        return False


def waiting_for(request: Request) -> str:
    """The step a pending request is waiting on, in words for an error message."""
    if request.stage == "hint_claimed":
        return "generate_hint"
    if request.student_run_at is None:
        return "run_student_program"
    if request.enhancement_done_at is None:
        return "query_for_enhanced_programs"
    if EnhancedProgram.select().where((EnhancedProgram.request == request.id) & EnhancedProgram.evaluated_at.is_null()).exists():
        return "run_enhanced_program"
    return "add_reflection"


def _resend(request: Request, now: dt.datetime) -> list[Next]:
    """The messages that move a stalled request on; none for an LLM step still claimed."""
    if request.stage == "hint_claimed":
        return [] if claims.live(request.id, "generate_hint", now=now) else [Next("generate_hint", request.id)]
    out = []
    if request.student_run_at is None:
        out.append(Next("run_student_program", request.id))
    # Candidates stored and not run (their message was lost): run them, also while a
    # cascade's first phase waits for their verdicts (its claim outlives the LLM call).
    out += steps.candidates_to_run(request.id)
    if request.enhancement_done_at is None and not claims.live(request.id, "query_for_enhanced_programs", now=now):
        out.append(Next("query_for_enhanced_programs", request.id))
    # The evidence may be complete with nobody left to notice (the message that would
    # have claimed the hint stage was lost): claim it here.
    return out + steps.check_barrier(request.id)


def sweep(stall_seconds: float, report_url_set: bool, now: dt.datetime | None = None) -> list[Next]:
    """One pass; returns the messages to send."""
    now = now or utcnow()
    out: list[Next] = []
    open_requests = Request.stage.in_(("pending", "hint_claimed"))

    for request in Request.select().where(open_requests & (Request.deadline_at < now)):
        out += steps.fail_request(request.id, f"deadline exceeded while waiting for {waiting_for(request)}")

    no_reflection = ~Request.id.in_(Reflection.select(Reflection.request))
    expired = Request.select(Request.id).where(
        (Request.stage == "pending") & (Request.reflection_deadline_at < now) & no_reflection
    )
    for request in expired:
        out += steps.check_barrier(request.id)

    stalled_since = now - dt.timedelta(seconds=stall_seconds)
    for request in Request.select().where(open_requests & (Request.updated_at < stalled_since)):
        resend = _resend(request, now)
        if resend:
            log.info("request %s: stalled at %s, re-sending", request.request_id, waiting_for(request))
            # Counts as progress: the re-sent step has STALL_SECONDS to show its own.
            Request.update(updated_at=now).where(Request.id == request.id).execute()
            out += resend

    if report_url_set:
        # Never tried (a crash between commit and send), or all retries long used up.
        long_ago = now - dt.timedelta(hours=1)
        unreported = Hint.select(Hint.request).where(
            Hint.reported_at.is_null()
            & (((Hint.report_attempts == 0) & (Hint.created_at < stalled_since)) | (Hint.created_at < long_ago))
        )
        out += [Next("return_hint", h.request_id) for h in unreported]
    return out
