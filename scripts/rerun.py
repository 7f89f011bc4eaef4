"""Re-run a finished request: `python -m scripts.rerun REQUEST_ID [--reason TEXT]`.

The finished attempt (outcome, hint, candidates, LLM usage) is kept and shown in the
trace's `previous_attempts`; the request starts again from its first steps on the
workers, and orchestration gets the callback again when the new hint is stored. A
request still running is refused. See docs/maintenance.md; the same action over HTTP is
`POST /ai_hint/rerun/` (token required).
"""

from __future__ import annotations

import argparse
import json
import sys

from maintenance import MaintenanceError, rerun
from runtime import BROKER_OUTAGES, build
from settings import load_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("request_id", type=int, help="orchestration's request id")
    parser.add_argument("--reason", help="why (kept with the old attempt)")
    args = parser.parse_args(argv)
    settings = load_settings()
    if not settings.rabbitmq_url:
        # The embedded broker lives inside the web process: a message sent from here would be lost.
        print("error: RABBITMQ_URL is not set (embedded mode): re-run through the running service, "
              "POST /ai_hint/rerun/ with the API token", file=sys.stderr)
        return 2
    runtime = build(settings)
    try:
        done = rerun(runtime, args.request_id, args.reason)
    except MaintenanceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except BROKER_OUTAGES as exc:
        print(f"error: the request was reset but its steps could not be sent ({type(exc).__name__}); "
              "the sweep sends them when the broker is back", file=sys.stderr)
        return 1
    previous = done.previous
    outcome = "hint" if previous["job_finished_successfully"] else f"failed: {previous['generation_error_message']}"
    print(f"request {done.request_id}: attempt {previous['attempt']} kept ({outcome}); "
          f"attempt {done.attempt} started ({', '.join(done.steps)})")
    print(json.dumps({"request_id": done.request_id, "attempt": done.attempt}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
