"""The log line formats (logs.py): text and JSON, the request id on every line, the broker's
expected reconnects as one line without traceback, and nothing bulky at DEBUG."""

from __future__ import annotations

import logging

import pika.exceptions
import pytest

from logs import request_context
from settings import SettingsError, load_settings
from tests import log_capture
from tests.log_capture import json_lines

log_lines = log_capture.log_lines  # the fixture


def test_a_bogus_log_format_stops_the_process_naming_the_variable():
    with pytest.raises(SettingsError, match="LOG_FORMAT"):
        load_settings({"LOG_FORMAT": "bogus"})
    assert load_settings({"LOG_FORMAT": "JSON"}).log_format == "json"


def test_json_lines_carry_time_level_logger_message_request_id_and_fields(log_lines):
    stream = log_lines(load_settings({"LOG_FORMAT": "json"}))
    with request_context(42):
        logging.getLogger("hint.flow").info("request %s: evidence complete", 42, extra={"fields": {"stage": "x"}})
        try:
            raise ValueError("boom")
        except ValueError:
            logging.getLogger("hint.api").exception("unhandled error")
    logging.getLogger("hint.serve").warning('no request here; a "quote"\nand a newline')
    first, second, third = json_lines(stream)
    assert first["level"] == "INFO" and first["logger"] == "hint.flow" and first["request_id"] == 42
    assert first["message"] == "request 42: evidence complete" and first["stage"] == "x" and first["time"]
    assert second["request_id"] == 42 and "ValueError: boom" in second["exception"]
    assert third["request_id"] is None and third["message"].endswith("a newline")


def test_text_lines_name_the_request_once(log_lines):
    stream = log_lines(load_settings({}))
    with request_context(7):
        logging.getLogger("hint.flow").info("request 7: evidence complete")
        logging.getLogger("hint.timing").info("step actor=x request_id=7 outcome=ok")
    logging.getLogger("hint.serve").info("listening")
    lines = stream.getvalue().splitlines()
    assert lines[0].endswith("request 7: evidence complete request_id=7")
    assert lines[1].endswith("step actor=x request_id=7 outcome=ok")  # said already: not repeated
    assert "request_id" not in lines[2]


def test_a_lost_broker_connection_is_one_warning_without_traceback(log_lines):
    """What pika logs when RabbitMQ closes a connection (tests/stack/test_broker_logs.py
    does it with a real RabbitMQ): three ERROR lines with tracebacks, kept to one WARNING."""
    stream = log_lines(load_settings({}))
    lost = pika.exceptions.StreamLostError("Stream connection lost: BrokenPipeError(32, 'Broken pipe')")
    try:
        raise BrokenPipeError(32, "Broken pipe")
    except BrokenPipeError:
        logging.getLogger("pika.adapters.utils.io_services_utils").exception("_AsyncBaseTransport._produce() failed")
    logging.getLogger("pika.adapters.base_connection").error("connection_lost: %r", lost)
    logging.getLogger("pika.adapters.blocking_connection").error("Unexpected connection close detected: %r", lost)
    out = stream.getvalue()
    assert "Traceback" not in out and "ERROR" not in out
    (line,) = out.splitlines()
    assert "WARNING" in line and "RabbitMQ connection lost (StreamLostError)" in line


def test_debug_shows_no_sql_parameters_nor_llm_request_bodies(log_lines):
    stream = log_lines(load_settings({"LOG_LEVEL": "DEBUG"}))
    logging.getLogger("peewee").debug(("SELECT 1 WHERE program = ?", ["def secret_solution(): ..."]))
    logging.getLogger("openai._base_client").debug("Request options: {'json_data': {'messages': ['a prompt']}}")
    logging.getLogger("hint.flow").debug("our own detail")
    out = stream.getvalue()
    assert "secret_solution" not in out and "a prompt" not in out and "our own detail" in out
