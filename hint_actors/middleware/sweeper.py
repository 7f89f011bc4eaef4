"""Runs `sweep_once` every `interval` seconds in a thread of each worker process (only the
process holding the sweep lease does any work, see hint_actors/sweep.py)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import dramatiq
from dramatiq.middleware import Middleware

from database import close_connection
from models import db

log = logging.getLogger("hint.sweep")


class Sweeper(Middleware):
    def __init__(self, sweep_once: Callable[[], object], interval: float) -> None:
        self.sweep_once = sweep_once
        self.interval = interval
        self._stop = threading.Event()

    def after_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        self._stop.clear()
        threading.Thread(target=self._loop, name="hint-sweep", daemon=True).start()

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                db.connect(reuse_if_open=True)
                self.sweep_once()
            except Exception:  # a failed pass is retried at the next tick
                log.exception("sweep pass failed")
            finally:
                close_connection()
