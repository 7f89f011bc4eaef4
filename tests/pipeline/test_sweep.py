"""The sweep's lease (one process sweeps at a time), and writes that wait out a database restart."""

from __future__ import annotations

import datetime as dt

import pytest
from peewee import OperationalError

from database import through_outage
from hint_actors import sweep
from models import SweepLease, utcnow


def test_one_process_holds_the_sweep_lease_until_it_stops_renewing_it(runtime):
    assert sweep.acquire_lease("a:1", ttl_seconds=30)
    assert not sweep.acquire_lease("b:2", ttl_seconds=30)
    assert sweep.acquire_lease("a:1", ttl_seconds=30)  # renewed by its holder
    SweepLease.update(expires_at=utcnow() - dt.timedelta(seconds=1)).execute()  # a:1 died
    assert sweep.acquire_lease("b:2", ttl_seconds=30)
    assert not sweep.acquire_lease("a:1", ttl_seconds=30)
    assert SweepLease.select().count() == 1


def test_only_the_lease_holder_sweeps(runtime, monkeypatch):
    passes = []
    monkeypatch.setattr(sweep, "sweep", lambda rt, now=None: passes.append(rt))
    sweep.sweep_once(runtime, "a:1")
    sweep.sweep_once(runtime, "b:2")
    sweep.sweep_once(runtime, "a:1")
    assert len(passes) == 2


def test_a_write_waits_out_a_short_database_outage(monkeypatch):
    import database

    monkeypatch.setattr(database.time, "sleep", lambda seconds: None)
    attempts = []

    def write() -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise OperationalError("the database system is starting up")
        return "written"

    assert through_outage(write, patience=30) == "written" and len(attempts) == 3


def test_a_write_gives_up_after_its_patience(monkeypatch):
    def write() -> None:
        raise OperationalError("connection refused")

    with pytest.raises(OperationalError):
        through_outage(write, patience=0)
