"""The embedded demo: `python -m scripts.demo`.

Starts the whole service in this process on the embedded defaults (a fresh SQLite file,
the in-process broker and workers, the LLM-free engine unless an LLM is configured),
sends plan, debug and optimize requests with reflections through the real HTTP API,
and prints each hint. Exits non-zero if any request did not end with a hint.
"""

from __future__ import annotations

import secrets
import sys
import tempfile
import threading
import time
from pathlib import Path

import dramatiq
import requests
from waitress.server import BaseWSGIServer, create_server

from hint_actors import worker
from hint_api import create_app
from logs import configure_logging
from migrations import migrate
from runtime import build
from settings import Settings, load_settings, read_environment

TOKEN = secrets.token_urlsafe(24)  # this run's API token

SCENARIOS = [
    {
        "problem_id": "factorial",
        "hint_type": "debug",
        "program": (
            "def factorial(n):\n"
            "    result = 0\n"
            "    for i in range(1, n + 1):\n"
            "        result *= i\n"
            "    return result\n"
        ),
        "reflection": ("What do you think is wrong?", "My loop multiplies the numbers but the answer is always zero."),
    },
    {
        "problem_id": "sum_two_numbers",
        "hint_type": "debug",
        "program": "def foo(a, b):\n    return a - b\n",
        "reflection": ("What do you think is wrong?", "I am not sure."),
    },
    {
        "problem_id": "count_vowels",
        "hint_type": "plan",
        "program": "def count_vowels(s):\n    pass\n",
        "reflection": ("Where are you stuck?", "I do not know how to start checking every letter of the string."),
    },
    {
        "problem_id": "factorial",
        "hint_type": "optimize",
        "program": (
            "def factorial(n):\n"
            "    if n == 0:\n"
            "        return 1\n"
            "    total = 1\n"
            "    for i in range(1, n + 1):\n"
            "        product = 1\n"
            "        for j in range(1, i + 1):\n"
            "            product *= j\n"
            "        total = product\n"
            "    return total\n"
        ),
        "reflection": ("What would you like to improve?", "I think my loops do too much work."),
    },
    {
        "problem_id": "factorial",
        "hint_type": "debug",
        "program": (
            "def factorial(n):\n"
            "    result = 1\n"
            "    for i in range(2, n + 1):\n"
            "        result *= i\n"
            "    return result\n"
        ),
        "reflection": ("What do you think is wrong?", "Nothing, I just want to check."),
    },
]


def _settings(workdir: str) -> Settings:
    """Embedded defaults, in a throwaway database so every demo run starts clean; an LLM
    configured in the environment (or .env) is used."""
    env = {k: v for k, v in read_environment().items() if not k.startswith("RABBITMQ_")}
    env.update(DATABASE_URL=f"sqlite:///{Path(workdir) / 'demo.db'}", LOG_LEVEL=env.get("LOG_LEVEL", "WARNING"),
               HOST="127.0.0.1", HINT_API_TOKEN=TOKEN)
    return load_settings(env)


def _start_server(settings: Settings) -> tuple[str, BaseWSGIServer, dramatiq.Worker]:
    configure_logging(settings)
    migrate(settings.database_url)
    runtime = build(settings)
    server = create_server(create_app(runtime), host="127.0.0.1", port=0, threads=8)
    threading.Thread(target=server.run, daemon=True).start()
    return f"http://127.0.0.1:{server.effective_port}", server, worker.start(runtime)


def run_demo(base: str, timeout: float = 60.0) -> int:
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {TOKEN}"  # the trace, read below, needs the token
    failures = 0
    started = time.monotonic()
    for i, s in enumerate(SCENARIOS, start=1):
        reply = api.post(f"{base}/ai_hint/add_request/", json={
            "type": "add_request", "request_id": i,
            "data": {"problem_id": s["problem_id"], "student_program": s["program"], "hint_type": s["hint_type"]},
        }, timeout=10)
        reply.raise_for_status()
        question, answer = s["reflection"]
        api.post(f"{base}/ai_hint/add_reflection/", json={
            "request_id": i, "data": {"reflection_question": question, "reflection_answer": answer},
        }, timeout=10).raise_for_status()

    for i, s in enumerate(SCENARIOS, start=1):
        status = {}
        while time.monotonic() - started < timeout:
            status = api.get(f"{base}/ai_hint/query_hint/", params={"request_id": i}, timeout=10).json()
            if status["job_finished"]:
                break
            time.sleep(0.05)
        trace = api.get(f"{base}/ai_hint/trace/", params={"request_id": i}, timeout=10).json()
        engine = (trace.get("hint") or {}).get("engine")
        print(f"\n[{i}] {s['problem_id']} · {s['hint_type']} · engine: {engine}")
        print("    program: " + s["program"].strip().replace("\n", "\n             "))
        if status.get("job_finished") and status.get("job_finished_successfully"):
            print(f"    hint:    {status['hint']}")
        else:
            failures += 1
            print(f"    NO HINT: {status.get('generation_error_message') or 'timed out waiting'}")
    print(f"\n{len(SCENARIOS) - failures}/{len(SCENARIOS)} requests got a hint in {time.monotonic() - started:.1f}s")
    return 1 if failures else 0


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="hint-demo-") as workdir:
        base, server, embedded = _start_server(_settings(workdir))
        try:
            return run_demo(base)
        finally:
            embedded.stop()
            server.close()


if __name__ == "__main__":
    sys.exit(main())
