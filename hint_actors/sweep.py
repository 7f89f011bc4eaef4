"""The periodic sweep: nothing stays pending forever.

One worker process at a time holds the sweep lease (a row renewed with a conditional
update, so it works on SQLite and PostgreSQL alike). The sweep ends requests past their
deadline with a failed hint, lets requests whose reflection never came go ahead, and
re-sends the next message of requests that stopped moving (a message lost with a
crashed worker or a restarted broker). Every step is idempotent, so a re-sent message
that was not lost after all does no harm.
"""

from __future__ import annotations

import datetime as dt
import logging

from peewee import IntegrityError

from hint_actors import steps
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


def _resend(request: Request) -> list[Next]:
    if request.stage == "hint_claimed":
        return [Next("generate_hint", request.id)]
    out = []
    if request.student_run_at is None:
        out.append(Next("run_student_program", request.id))
    if request.enhancement_done_at is None:
        out.append(Next("query_for_enhanced_programs", request.id))
    else:
        unevaluated = EnhancedProgram.select(EnhancedProgram.id).where(
            (EnhancedProgram.request == request.id) & EnhancedProgram.evaluated_at.is_null()
        )
        out.extend(Next("run_enhanced_program", c.id) for c in unevaluated)
    return out


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
        log.info("request %s: stalled at %s, re-sending", request.request_id, waiting_for(request))
        Request.update(updated_at=now).where(Request.id == request.id).execute()
        out += _resend(request)

    if report_url_set:
        # Never tried (a crash between commit and send), or all retries long used up.
        long_ago = now - dt.timedelta(hours=1)
        unreported = Hint.select(Hint.request).where(
            Hint.reported_at.is_null()
            & (((Hint.report_attempts == 0) & (Hint.created_at < stalled_since)) | (Hint.created_at < long_ago))
        )
        out += [Next("return_hint", h.request_id) for h in unreported]
    return out
