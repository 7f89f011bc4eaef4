"""The worker probe's liveness rule: a worker process is live while its beat is recent."""

from __future__ import annotations

import os

from worker_probe import STALE_SECONDS, beat_path, live_workers


def test_only_recent_beats_count(tmp_path):
    now = 1_000_000.0
    fresh, stale = beat_path(tmp_path, 11), beat_path(tmp_path, 12)
    fresh.touch()
    stale.touch()
    os.utime(fresh, (now - 1, now - 1))
    os.utime(stale, (now - STALE_SECONDS - 1, now - STALE_SECONDS - 1))
    (tmp_path / "counter_11.db").touch()  # prometheus_client's files are not beats
    assert live_workers(tmp_path, now) == 1
    assert live_workers(tmp_path, now + STALE_SECONDS) == 0
