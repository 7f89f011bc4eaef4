"""Backpressure: new requests wait outside while the backlog is full.

The backlog is the requests accepted and not finished. Beyond `MAX_PENDING_REQUESTS`,
`add_request` answers 429 with Retry-After and stores nothing, so orchestration's retry
succeeds once the workers have caught up, and the requests already admitted keep their
normal latency instead of all missing their deadline together (docs/security.md, "Backpressure").
"""

from __future__ import annotations

import threading
import time

from hint_core.lifecycle import Stage
from models import Request

BACKLOG = "hint_backlog"  # the app's Backlog in app.extensions
COUNT_EVERY_SECONDS = 1.0  # one COUNT per second, not one per call, under a flood
RETRY_AFTER_SECONDS = 30


class Backlog:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._counted_at = -COUNT_EVERY_SECONDS
        self._count = 0
        self._lock = threading.Lock()

    def size(self) -> int:
        with self._lock:
            if time.monotonic() - self._counted_at >= COUNT_EVERY_SECONDS:
                self._count = Request.select().where(Request.stage != Stage.FINISHED).count()
                self._counted_at = time.monotonic()
            return self._count

    def full(self) -> bool:
        return self.size() >= self.limit

    def admitted(self) -> None:
        """One more request stored since the last count (counted until the next count)."""
        with self._lock:
            self._count += 1
