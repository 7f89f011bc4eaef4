"""Operator actions on the production stack (PostgreSQL, RabbitMQ, waitress, dramatiq):
`scripts.rerun` of a failed request, the token-only endpoint, `scripts.prune`."""

from __future__ import annotations

import subprocess
import sys

import requests

from settings import ROOT
from tests.helpers import BUGGY_FACTORIAL, REFLECTION, wait_until
from tests.production import production_stack


def script(stack, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, env=stack.env, capture_output=True, text=True,
                          timeout=60)


def test_rerun_and_prune_on_the_production_stack(production_servers, tmp_path):
    with production_stack(tmp_path, SWEEP_INTERVAL_SECONDS="1") as stack:
        # A request that fails: no reflection, and its deadline passes (the sweep ends it).
        assert stack.add_request(201, "factorial", BUGGY_FACTORIAL, "debug").status_code == 200
        stack.query("UPDATE request SET deadline_at = now() at time zone 'utc' - interval '1 second' "
                    "WHERE request_id = 201 RETURNING id")
        assert stack.wait_for_hint(201)["job_finished_successfully"] is False
        assert stack.add_reflection(201, *REFLECTION).status_code == 200

        done = script(stack, "scripts.rerun", "201", "--reason", "stack test")
        assert done.returncode == 0, done.stderr
        assert "attempt 1 kept (failed: deadline exceeded" in done.stdout
        wait_until(lambda: stack.trace(201)["job_finished_successfully"] is True, what="the re-run's hint")
        trace = stack.trace(201)
        assert [a["attempt"] for a in trace["previous_attempts"]] == [1]
        assert trace["previous_attempts"][0]["job_finished_successfully"] is False

        # The endpoint: refused without the token, 409 while running, 404 unknown.
        url = f"{stack.base}/ai_hint/rerun/"
        assert requests.post(url, json={"request_id": 201}, timeout=10).status_code == 401
        assert requests.post(url, json={"request_id": 999}, headers=stack.auth, timeout=10).status_code == 404
        refused = script(stack, "scripts.rerun", "999")
        assert refused.returncode == 1 and "no request with request_id 999" in refused.stderr

        # Retention: the old finished request goes with all its rows; a recent one stays.
        assert stack.add_request(202, "factorial", BUGGY_FACTORIAL, "debug").status_code == 200
        stack.query(
            "UPDATE request SET created_at = created_at - interval '40 days' WHERE request_id = 201 RETURNING id")
        dry = script(stack, "scripts.prune", "--older-than", "30", "--dry-run")
        assert dry.returncode == 0 and "would delete 1 finished request(s)" in dry.stdout, dry.stderr
        pruned = script(stack, "scripts.prune", "--older-than", "30")
        assert pruned.returncode == 0 and "deleted 1 finished request(s)" in pruned.stdout, pruned.stderr
        assert stack.query("SELECT request_id FROM request") == [(202,)]
        pk_rows = stack.query(
            "SELECT (SELECT count(*) FROM enhanced_program WHERE request_id NOT IN (SELECT id FROM request))"
            " + (SELECT count(*) FROM request_attempt) + (SELECT count(*) FROM reflection WHERE request_id NOT IN"
            " (SELECT id FROM request))")
        assert pk_rows == [(0,)]
        assert stack.query("SELECT requests, outcome FROM daily_figure") == [(1, "hint")]
        assert requests.get(f"{stack.base}/ai_hint/query_hint/", params={"request_id": 201}, headers=stack.auth,
                            timeout=10).status_code == 404
