"""The logs of the real processes: with LOG_FORMAT=json every line of the web process and
of the workers is a JSON object naming its request; RabbitMQ closing a publishing
connection (what it does to an idle web thread's) costs one warning line and no failed
call: the publish goes out on a new connection."""

from __future__ import annotations

import json
import socket
import uuid

import dramatiq
import requests

from hint_core.lifecycle import Step
from runtime import make_broker
from settings import load_settings
from tests import log_capture
from tests.helpers import REFLECTION, require_service
from tests.production import RABBITMQ_URL, production_stack

log_lines = log_capture.log_lines  # the fixture


def test_a_connection_rabbitmq_dropped_is_one_warning_and_the_publish_goes_out(log_lines):
    require_service("RabbitMQ", "127.0.0.1", 5672)
    queue = f"hint-test-logs-{uuid.uuid4().hex[:8]}"
    settings = load_settings({"RABBITMQ_URL": RABBITMQ_URL, "TASK_QUEUE": queue})
    out = log_lines(settings)
    broker = make_broker(settings)
    try:
        message = dramatiq.Message(queue_name=queue, actor_name=Step.ADD_REFLECTION.value, args=(1,), kwargs={},
                                   options={})
        broker.enqueue(message)
        # The server side of this thread's connection goes away, as when RabbitMQ closes it.
        broker.connection._impl._transport._sock.shutdown(socket.SHUT_RDWR)
        broker.enqueue(message)
        assert broker.channel.queue_declare(queue, passive=True).method.message_count == 2
    finally:
        broker.channel.queue_delete(queue)
        broker.close()
    text = out.getvalue()
    assert "Traceback" not in text and " ERROR " not in text, text
    (warning,) = [line for line in text.splitlines() if " WARNING " in line]
    assert "RabbitMQ connection lost (StreamLostError)" in warning


def test_json_logs_of_the_production_stack_name_the_request_on_every_call_and_step(tmp_path):
    require_service("PostgreSQL", "127.0.0.1", 5432)
    require_service("RabbitMQ", "127.0.0.1", 5672)
    with production_stack(tmp_path, LOG_FORMAT="json") as stack:
        assert stack.add_request(77, "factorial", "def factorial(n):\n    return 0\n", "debug").status_code == 200
        assert stack.add_reflection(77, *REFLECTION).status_code == 200
        assert stack.wait_for_hint(77)["job_finished"]
        bad = requests.get(f"{stack.base}/ai_hint/query_hint/?request_id=x", headers=stack.auth, timeout=10)
        assert bad.status_code == 400
    lines = []
    for path in stack.logs:
        for line in path.read_text().splitlines():
            if "[dramatiq.MainProcess]" in line or "[dramatiq.ForkProcess(" in line:
                continue  # the dramatiq command's supervisor and its fork's start line: its own format (docs)
            lines.append(json.loads(line))  # every other line is one JSON object
    access = [(a["method"], a["path"], a["status"], a["request_id"]) for a in lines if a["logger"] == "hint.access"]
    assert ("POST", "/ai_hint/add_request/", 200, 77) in access and ("GET", "/ai_hint/query_hint/", 400, None) in access
    steps = [line for line in lines if line["logger"] == "hint.timing"]
    assert {"run_student_program", "generate_hint"} <= {s["actor"] for s in steps}
    assert all(s["request_id"] == 77 for s in steps)
    assert not [line for line in lines if line["level"] == "ERROR" or "exception" in line]

