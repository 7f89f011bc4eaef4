"""Leases on a step's costly work, so a message delivered twice never pays for it twice.

RabbitMQ delivers at least once: a message comes again when a worker dies, when the
broker restarts, or when the sweep re-sends a step that looked stalled. Checking that
the step's result exists is not enough for the LLM steps and the callback, because the
result only exists once the work has returned. So the step takes a lease (a committed
`StepClaim` row) before the work; a second delivery that finds a live lease waits and
looks again (`Busy`), and one that finds a lapsed lease takes it over.

A lease is short (`LEASE_SECONDS`, 15 s by default) and its holder's process renews it
every few seconds while the work goes on (the `Heartbeat` middleware calls `renew`).
So a worker killed in the middle of an LLM call loses its lease within seconds and the
redelivered message takes the work over, however long the LLM may take when alive.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from peewee import Case, Expression

from hint_core.errors import Busy
from hint_core.lifecycle import Step
from models import StepClaim, utcnow

log = logging.getLogger("hint.leases")


def _key(request_pk: int, step: Step, attempt: int) -> Expression:
    return (StepClaim.request == request_pk) & (StepClaim.step == step) & (StepClaim.attempt == attempt)


class Leases:
    """The leases this worker process holds, renewed together by its heartbeat."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.process = f"{socket.gethostname()}:{os.getpid()}"
        self._held: dict[int, str] = {}  # StepClaim id -> holder, for the heartbeat
        self._lock = threading.Lock()

    def holder(self) -> str:
        """This worker thread, as it appears in the table and in logs."""
        return f"{self.process}:{threading.get_native_id()}"

    @contextmanager
    def hold(self, request_pk: int, step: Step, attempt: int = 1) -> Iterator[None]:
        """Hold the lease for the block; `Busy` while another live worker holds it."""
        lease_id = self.take(request_pk, step, attempt)
        try:
            yield
        finally:
            self.release(lease_id)

    def take(self, request_pk: int, step: Step, attempt: int = 1) -> int:
        now, me = utcnow(), self.holder()
        expires = now + dt.timedelta(seconds=self.seconds)
        # One statement: a lease already there (live or not) leaves this insert a no-op.
        inserted = StepClaim.insert(
            request=request_pk, step=step, attempt=attempt, holder=me, claimed_at=now, expires_at=expires,
        ).on_conflict_ignore().as_rowcount().execute()
        if not inserted:
            previous = StepClaim.get_or_none(_key(request_pk, step, attempt))
            # A lapsed lease is taken over; one its holder released is simply reused.
            taken = StepClaim.update(
                holder=me, claimed_at=now, expires_at=expires, released_at=None,
                takeovers=StepClaim.takeovers + Case(None, [(StepClaim.released_at.is_null(), 1)], 0),
            ).where(_key(request_pk, step, attempt) & (StepClaim.expires_at < now)).execute()
            if not taken:
                # Look again soon: right after the lease would lapse, or a third of a lease
                # from now if it is renewed meanwhile (a takeover then waits at most a lease
                # and a third after its holder died).
                left = (previous.expires_at - now).total_seconds() if previous else 0.0
                raise Busy(f"{step} is in the hands of {previous.holder if previous else 'another worker'}",
                           retry_after=min(max(left, 0.0), self.seconds / 3) + 0.2)
            if previous is not None and previous.released_at is None:
                log.warning("request pk %s: %s taken over from %s, whose lease lapsed (the worker stopped)",
                            request_pk, step, previous.holder)
        lease = StepClaim.select(StepClaim.id).where(_key(request_pk, step, attempt)).get()
        with self._lock:
            self._held[lease.id] = me
        return lease.id

    def release(self, lease_id: int) -> None:
        """The work is over (done or failed): the next delivery need not wait for the lease."""
        with self._lock:
            me = self._held.pop(lease_id, None)
        if me is None:
            return
        now = utcnow()
        try:
            StepClaim.update(released_at=now, expires_at=now).where(
                (StepClaim.id == lease_id) & (StepClaim.holder == me)
            ).execute()
        except Exception as exc:  # noqa: BLE001 - not renewed any more, it lapses by itself
            log.warning("could not release lease %s (%s); it lapses in %.0f s", lease_id, type(exc).__name__,
                        self.seconds)

    def renew(self) -> int:
        """Push back the expiry of every lease this process holds (the heartbeat)."""
        with self._lock:
            held = dict(self._held)
        if not held:
            return 0
        expires = utcnow() + dt.timedelta(seconds=self.seconds)
        return StepClaim.update(expires_at=expires).where(
            StepClaim.id.in_(list(held)) & StepClaim.released_at.is_null()
        ).execute()


def live(request_pk: int, step: Step, now: dt.datetime | None = None) -> bool:
    """Is someone working on this step (any attempt) right now: a lease not lapsed?"""
    now = now or utcnow()
    mine = (StepClaim.request == request_pk) & (StepClaim.step == step)
    return StepClaim.select().where(mine & (StepClaim.expires_at > now)).exists()
