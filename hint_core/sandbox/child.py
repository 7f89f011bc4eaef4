"""The harness inside the sandboxed child: load the program, answer one record per input.

By the time ``run`` is called the process is already confined (see ``server.py``). It
runs the problem's setup code and loads the program in one namespace, and only then reads
the test *inputs* (the function each test calls, and its arguments) from the record
socket; expected values never come here, so nothing in this process can claim a pass. It
writes one JSON line per test to the record descriptor:

    {"i": 3, "value": <wire value>}          what the function returned / what was printed
    {"i": 3, "error": {"type", "message", "line"}}   an exception, line in the program
    {"i": 3, "unsupported": "a value of type Foo ..."}   returned something not checkable
    {"i": 3, "limit": "output"}              printed more than the output limit
    {"compile_error": {...}} / {"load_error": {...}}    before any test could run

Before any of them, and before any code of the program runs, comes the static check's
record (static.py) when it found something: ``{"static": {"forbidden": [...]}}``, or
``{"static": {"too_complex": why}}`` (then nothing else follows).

The program can write to that descriptor too; the parent tolerates it: a forged record
can only claim a value (exactly what returning it would do), and a duplicate or garbled
record makes the test fail.

Standard library only: this module runs in the fork server's interpreter.
"""

from __future__ import annotations

import builtins
import io
import os
import sys
import types
from collections.abc import Callable
from types import CodeType
from typing import Any

if __package__:
    from . import static, wire
else:  # imported by the fork server, outside the project package
    import static
    import wire

Emit = Callable[[dict[str, Any]], None]
PROGRAM_FILE = "<student>"
SETUP_FILE = "<setup>"  # the problem's own code: an error there is no line of the student's
HARNESS_FRAMES = 30  # our own frames below the program's, added to the recursion limit


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _describe(exc: BaseException) -> dict[str, Any]:
    """An exception as type, message and the last line in the program's own code."""
    line = None
    if isinstance(exc, SyntaxError) and exc.filename == PROGRAM_FILE:
        line = exc.lineno
    tb = exc.__traceback__
    # Walk the traceback objects directly: traceback.extract_tb would load source lines
    # for every frame, which takes seconds after a deep recursion.
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == PROGRAM_FILE:
            line = tb.tb_lineno
        tb = tb.tb_next
    try:
        message = str(exc)[:500]
    except BaseException:  # noqa: BLE001 - a hostile __str__
        message = "<message could not be shown>"
    return {"type": str(type(exc).__name__)[:100], "message": message, "line": line}


def _text_stream(fd: int, mode: str) -> io.TextIOWrapper:
    raw = io.FileIO(fd, mode, closefd=False)
    if mode == "r":
        return io.TextIOWrapper(io.BufferedReader(raw), encoding="utf-8", errors="replace")
    return io.TextIOWrapper(io.BufferedWriter(raw), encoding="utf-8", errors="backslashreplace",
                            line_buffering=True)


def _fresh_module(name: str) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__builtins__ = builtins
    sys.modules[name] = module
    return module


def run(payload: dict[str, Any], record_fd: int, read_inputs: Callable[[], list[dict[str, Any]]]) -> None:
    """Load the program, then take the test inputs (`read_inputs()`) and answer each;
    return when done (the caller exits)."""

    def emit(record: dict[str, Any]) -> None:
        _write_all(record_fd, wire.dumps_record(record))

    sys.setrecursionlimit(payload["recursion_limit"] + HARNESS_FRAMES)
    # Printing goes to the output pipe, line by line, so that what was printed before a
    # timeout or a crash is not lost in a buffer.
    sys.stdout = _text_stream(1, "w")
    sys.stderr = _text_stream(2, "w")
    sys.stdin = _text_stream(0, "r")
    checked = static.check(payload["program"], payload.get("forbid") or {})  # {} without forbid rules
    if checked.get("forbidden") or "too_complex" in checked:
        # First on the channel: nothing of the program has run yet. Sent only when there
        # is something to say (one write less per run); a program that writes such a
        # record first itself can only make its own verdict worse.
        emit({"static": checked})
    if "too_complex" in checked:
        return
    try:
        code = compile(payload["program"], PROGRAM_FILE, "exec", dont_inherit=True)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        # ValueError: NUL bytes in the source; RecursionError and MemoryError: nested too
        # deeply for the compiler (the worker refuses most such programs before sending).
        emit({"compile_error": _describe(exc)})
        return
    setup = compile(payload.get("setup") or "", SETUP_FILE, "exec", dont_inherit=True)
    if payload["kind"] == "function":
        _run_function_tests(setup, code, emit, read_inputs)
    else:
        _run_stdio_tests(setup, code, payload, emit, read_inputs())
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:  # noqa: BLE001 - whatever the program left there
            pass


def warm_up() -> None:
    """Called once in the fork server: the first parse builds the AST module's types and
    caches, which every run with forbid rules would otherwise build again for itself."""
    static.check("import a\nb = c.d(e)\n", {"names": ["_"], "calls": ["_"], "imports": ["_"]})


def _load(setup: CodeType, code: CodeType, module: types.ModuleType, emit: Emit) -> bool:
    """Run the setup code, then the program, in `module`; False (and a load_error record)
    if either raised."""
    try:
        exec(setup, module.__dict__)
    except BaseException as exc:  # noqa: BLE001 - the problem's own code: reported, never the program's fault
        error = _describe(exc)
        error["message"] = f"in the problem's setup code: {error['message']}"
        emit({"load_error": error})
        return False
    try:
        exec(code, module.__dict__)
    except BaseException as exc:  # noqa: BLE001 - the program may raise anything, SystemExit too
        emit({"load_error": _describe(exc)})
        return False
    return True


def _run_function_tests(setup: CodeType, code: CodeType, emit: Emit,
                        read_inputs: Callable[[], list[dict[str, Any]]]) -> None:
    module = _fresh_module("student")
    if not _load(setup, code, module, emit):
        return
    for i, test in enumerate(read_inputs()):
        name = test["f"]
        func = module.__dict__.get(name)
        if not callable(func):
            emit({"i": i, "error": {"type": "NameError", "message": f"function '{name}' is not defined",
                                    "line": None}})
            continue
        args = wire.decode(test["args"])
        kwargs = wire.decode(test["kwargs"])
        try:
            result = func(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001
            emit({"i": i, "error": _describe(exc)})
            continue
        sys.setrecursionlimit(max(sys.getrecursionlimit(), 200))  # for encoding, if lowered
        try:
            emit({"i": i, "value": wire.encode(result)})
        except wire.BadValue as exc:
            emit({"i": i, "unsupported": str(exc)})


def _run_stdio_tests(setup: CodeType, code: CodeType, payload: dict[str, Any], emit: Emit,
                     inputs: list[dict[str, Any]]) -> None:
    limit = payload["output_bytes"]
    saved_in, saved_out = os.dup(0), os.dup(1)
    for i, test in enumerate(inputs):
        # Real descriptors, not StringIO: programs read open(0), sys.stdin.buffer or
        # os.read(0) and write sys.stdout.buffer or os.write(1) too.
        stdin_fd = os.memfd_create("stdin")
        _write_all(stdin_fd, test["stdin"].encode())
        os.lseek(stdin_fd, 0, os.SEEK_SET)
        out_fd = os.memfd_create("stdout")
        os.dup2(stdin_fd, 0)
        os.dup2(out_fd, 1)
        os.close(stdin_fd)
        sys.stdin = _text_stream(0, "r")
        stdout = sys.stdout = io.TextIOWrapper(io.BufferedWriter(io.FileIO(1, "w", closefd=False)),
                                               encoding="utf-8", errors="backslashreplace")
        error = None
        namespace = _fresh_module("__main__").__dict__
        try:
            exec(setup, namespace)
        except BaseException as exc:  # noqa: BLE001
            error = _describe(exc)
            error["message"] = f"in the problem's setup code: {error['message']}"
        try:
            if error is None:
                exec(code, namespace)
        except SystemExit as exc:
            if exc.code not in (None, 0):
                error = _describe(exc)
        except BaseException as exc:  # noqa: BLE001
            error = _describe(exc)
        try:
            stdout.flush()
        except BaseException as exc:  # noqa: BLE001 - e.g. the file size limit
            error = error or _describe(exc)
        size = os.fstat(out_fd).st_size
        printed = os.pread(out_fd, min(size, limit), 0)
        os.close(out_fd)
        os.dup2(saved_out, 1)
        sys.stdout = _text_stream(1, "w")
        if size > limit or (error and error["type"] == "OSError" and "too large" in error["message"]):
            emit({"i": i, "limit": "output"})
        elif error:
            emit({"i": i, "error": error})
        else:
            emit({"i": i, "value": printed.decode("utf-8", "replace")})
        os.dup2(saved_in, 0)
