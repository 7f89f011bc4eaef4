"""The thread that starts fork servers, and what happens to executors at fork and at exit.

A fork server's parent-death signal fires when the *thread* that started it exits, not
the process; Dramatiq or a test may call the sandbox from a short-lived thread. So every
server is started from one thread that lives as long as the process.
"""

from __future__ import annotations

import atexit
import concurrent.futures
import os
import queue
import threading
import weakref
from collections.abc import Callable
from typing import Any, Protocol


class _Tracked(Protocol):
    def after_fork_in_child(self) -> None: ...

    def close(self) -> None: ...


class Keeper:
    """Runs callables on its own long-lived thread, started on first use."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        # Also called in a forked child: the parent's queue may hold its keeper's waiter,
        # and a lock may have been held by a thread that does not exist here.
        self._queue: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        self._running = False

    def call(self, fn: Callable[[], Any]) -> Any:
        """`fn()` run on the keeper's thread; its result, or its exception re-raised here."""
        with self._lock:
            if not self._running:
                self._running = True
                thread = threading.Thread(target=self._loop, args=(self._queue,), name="sandbox-keeper",
                                          daemon=True)
                thread.start()
        future: concurrent.futures.Future = concurrent.futures.Future()
        self._queue.put((fn, future))
        return future.result()

    @staticmethod
    def _loop(jobs: queue.Queue) -> None:
        while True:
            fn, future = jobs.get()
            try:
                future.set_result(fn())
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                future.set_exception(exc)


KEEPER = Keeper()  # one per process: it is the process's thread that starts servers
_tracked: weakref.WeakSet[_Tracked] = weakref.WeakSet()


def track(executor: _Tracked) -> None:
    """Reset `executor` in a forked child, and close it when the process exits."""
    _tracked.add(executor)


def _after_fork_in_child() -> None:
    KEEPER.reset()
    for executor in list(_tracked):
        executor.after_fork_in_child()


def _close_all() -> None:
    for executor in list(_tracked):
        try:
            executor.close()
        except Exception:  # noqa: BLE001 - at exit, nothing more to do
            pass


os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(_close_all)
