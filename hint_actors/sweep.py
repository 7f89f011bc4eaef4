"""The periodic sweep: nothing stays pending forever.

One worker process at a time holds the sweep lease (a row renewed with a conditional
update, so it works on SQLite and PostgreSQL alike). Each pass:

- ends requests past their deadline with a failed hint;
- lets requests whose reflection never came go ahead (their hint stage may be claimed);
- for each request that stopped moving, sends again what `lifecycle.advance` says it
  needs, except work a live worker holds a lease on (flow.resend): a message lost with
  a crashed worker, a restarted broker, or a worker killed between its commit and its
  send. Every step is idempotent, so a re-sent message that was not lost does no harm;
- reports hints orchestration never received (a callback never tried, or one whose
  retries were all used up an hour ago).
"""

from __future__ import annotations

import datetime as dt
import logging

from peewee import IntegrityError, fn

from database import write_transaction
from hint_actors import flow, steps
from hint_actors.pipeline import ENDS, STEPS
from hint_core.lifecycle import Stage, Step, waiting_for
from logs import request_context
from models import Hint, Reflection, Request, StepClaim, SweepLease, utcnow
from runtime import Runtime

log = logging.getLogger("hint.sweep")

LEASE = "sweep"
RETRY_UNREPORTED_AFTER = dt.timedelta(hours=1)  # the callback's own retries span about that;
# a hint still unreported is tried again at most once an hour


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


def sweep_once(rt: Runtime, holder: str) -> None:
    """One pass, if this process holds the lease (three missed renewals hand it on)."""
    if acquire_lease(holder, ttl_seconds=max(3.0, 3 * rt.settings.sweep_interval_seconds)):
        sweep(rt)


def sweep(rt: Runtime, now: dt.datetime | None = None) -> None:
    now = now or utcnow()
    open_requests = Request.stage.in_((Stage.PENDING, Stage.HINT_CLAIMED))

    for (pk,) in Request.select(Request.id).where(open_requests & (Request.deadline_at < now)).tuples():
        state = flow.load_state(rt, pk)
        if state is None:
            continue
        with request_context(state.request_id):
            if steps.fail_request(pk, f"deadline exceeded while waiting for {waiting_for(state)}"):
                flow.follow_up(rt, state, flow.load_state(rt, pk) or state, ENDS)

    no_reflection = ~Request.id.in_(Reflection.select(Reflection.request))
    expired = Request.select(Request.id).where(
        (Request.stage == Stage.PENDING) & (Request.reflection_deadline_at < now) & no_reflection
    )
    for (pk,) in expired.tuples():
        state = flow.load_state(rt, pk)
        if state is not None:  # the wait is over: as if the reflection had come
            flow.follow_up(rt, state, state, STEPS[Step.ADD_REFLECTION].follows)

    stalled_since = now - dt.timedelta(seconds=rt.settings.stall_seconds)
    for (pk,) in Request.select(Request.id).where(open_requests & (Request.updated_at < stalled_since)).tuples():
        state = flow.load_state(rt, pk)
        if state is None:
            continue
        with request_context(state.request_id):
            sent = flow.resend(rt, state)
        if sent:
            log.info("request %s: stalled, re-sent %s", state.request_id, ", ".join(sent),
                     extra={"request_id": state.request_id})
            # Counts as progress: the re-sent step has STALL_SECONDS to show its own.
            Request.update(updated_at=now).where(Request.id == pk).execute()

    if rt.settings.save_hint_url:
        long_ago = now - RETRY_UNREPORTED_AFTER
        tried_lately = StepClaim.select(StepClaim.id).where(
            (StepClaim.request == Hint.request) & (StepClaim.step == Step.RETURN_HINT)
            & (StepClaim.claimed_at > long_ago)
        )
        unreported = Hint.select(Hint.request).where(
            Hint.reported_at.is_null() & (
                ((Hint.report_attempts == 0) & (Hint.created_at < stalled_since))
                | ((Hint.created_at < long_ago) & ~fn.EXISTS(tried_lately))
            )
        )
        for (pk,) in unreported.tuples():
            state = flow.load_state(rt, pk)
            if state is not None:
                flow.resend(rt, state)
