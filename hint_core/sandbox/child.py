"""Runs inside the sandboxed child: load the program, answer one record per test input.

Protocol: a JSON payload arrives on fd CONTROL_FD ({"program", "kind", "function",
"inputs": [...]}); one JSON line per test goes to fd RECORD_FD:
{"i": index, "value": plain value} or {"i": index, "error": {"type", "message", "line"}}.
Expected values never come here, so nothing in this process can claim a pass.
"""

import io
import json
import os
import sys
import traceback

MAX_DEPTH = 20
MAX_ITEMS = 10_000
MAX_TEXT = 100_000
PROGRAM_FILE = "<student>"


class NotPlain(Exception):
    pass


def plain(value, depth=0):
    """Copy a value made of plain JSON types; anything else is reported as its repr."""
    if depth > MAX_DEPTH:
        raise NotPlain("value nested too deeply")
    if value is None or type(value) in (bool, int, float):
        if type(value) is int and abs(value).bit_length() > 4096:
            raise NotPlain("integer too large")
        return value
    if type(value) is str:
        if len(value) > MAX_TEXT:
            raise NotPlain("string too long")
        return value
    if type(value) in (list, tuple):
        if len(value) > MAX_ITEMS:
            raise NotPlain("list too long")
        return [plain(v, depth + 1) for v in value]
    if type(value) is dict:
        if len(value) > MAX_ITEMS:
            raise NotPlain("dict too large")
        out = {}
        for k, v in value.items():
            if type(k) is not str:
                raise NotPlain("dict keys must be strings")
            out[k] = plain(v, depth + 1)
        return out
    raise NotPlain(f"unsupported type {type(value).__name__}")


def error_record(exc):
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename == PROGRAM_FILE:
            line = frame.lineno
    if isinstance(exc, SyntaxError) and exc.filename == PROGRAM_FILE:
        line = exc.lineno
    return {"type": type(exc).__name__, "message": str(exc)[:500], "line": line}


def main(control_fd, record_fd):
    with os.fdopen(control_fd, "rb") as control:
        payload = json.loads(control.read())
    records = os.fdopen(record_fd, "w", buffering=1)
    real_stdout = sys.stdout

    def emit(record):
        records.write(json.dumps(record) + "\n")

    kind = payload["kind"]
    source = payload["program"]
    namespace = {"__name__": "__main__" if kind == "stdio" else "student"}
    try:
        code = compile(source, PROGRAM_FILE, "exec")
    except SyntaxError as exc:
        emit({"compile_error": error_record(exc)})
        return

    if kind == "function":
        sys.stdin = io.StringIO("")
        try:
            exec(code, namespace)
        except BaseException as exc:  # noqa: BLE001 - the student's code may raise anything
            emit({"load_error": error_record(exc)})
            return
        func = namespace.get(payload["function"])
        for i, test in enumerate(payload["inputs"]):
            if not callable(func):
                emit({"i": i, "error": {"type": "NameError", "message": f"function '{payload['function']}' is not defined", "line": None}})
                continue
            try:
                value = plain(func(*test["args"], **test["kwargs"]))
                emit({"i": i, "value": value})
            except NotPlain as exc:
                emit({"i": i, "error": {"type": "TypeError", "message": f"returned a value that cannot be checked: {exc}", "line": None}})
            except BaseException as exc:  # noqa: BLE001
                emit({"i": i, "error": error_record(exc)})
        return

    for i, test in enumerate(payload["inputs"]):
        sys.stdin = io.StringIO(test["stdin"])
        captured = io.StringIO()
        sys.stdout = captured
        try:
            exec(code, {"__name__": "__main__"})
            error = None
        except SystemExit as exc:
            error = None if exc.code in (None, 0) else error_record(exc)
        except BaseException as exc:  # noqa: BLE001
            error = error_record(exc)
        finally:
            sys.stdout = real_stdout
        if error:
            emit({"i": i, "error": error})
        else:
            emit({"i": i, "value": captured.getvalue()[:MAX_TEXT]})


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
