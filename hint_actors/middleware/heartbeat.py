"""Renews the leases this worker process holds, so they outlive a slow LLM call but lapse
within seconds of the process dying (see hint_actors/leases.py)."""

from __future__ import annotations

import logging
import threading

import dramatiq
from dramatiq.middleware import Middleware

from database import close_connection
from hint_actors.leases import Leases
from models import db

log = logging.getLogger("hint.heartbeat")


class Heartbeat(Middleware):
    def __init__(self, leases: Leases) -> None:
        self.leases = leases
        self.interval = leases.seconds / 3  # two missed beats still leave the lease alive
        self._stop = threading.Event()

    def after_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        self._stop.clear()
        threading.Thread(target=self._beat, name="hint-heartbeat", daemon=True).start()

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        self._stop.set()

    def _beat(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                db.connect(reuse_if_open=True)
                self.leases.renew()
            except Exception as exc:  # noqa: BLE001 - the next beat tries again; the lease has slack
                log.warning("could not renew leases: %s", type(exc).__name__)
            finally:
                close_connection()
