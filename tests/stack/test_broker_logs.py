"""RabbitMQ closing a publishing connection (what it does to an idle web thread's) costs one
warning line and no failed call: the publish goes out on a new connection."""

from __future__ import annotations

import socket
import uuid

import dramatiq

from hint_core.lifecycle import Step
from runtime import make_broker
from settings import load_settings
from tests import log_capture
from tests.helpers import require_service
from tests.production import RABBITMQ_URL

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
