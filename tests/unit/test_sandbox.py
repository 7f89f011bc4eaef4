"""The sandbox's verdicts: correct and incorrect programs for every problem of the bank,
type-strict comparison, stdin/stdout problems, results a student can use, concurrency.

Hostile programs are in test_sandbox_hostile.py, isolation layers in test_sandbox_layers.py.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from hint_core.problems import Compare, Limits, Problem, ProblemBank
from hint_core.problems import TestCase as Case
from hint_core.sandbox import ForkServerExecutor, RunResult, SandboxConfig
from hint_core.sandbox.results import TestResult as OneTestResult  # not "Test*": pytest would collect it
from hint_core.sandbox.results import values_equal

BANK = ProblemBank()
EXECUTOR = ForkServerExecutor(SandboxConfig())  # its server starts on the first run


def run_program(problem: Problem, program: str) -> RunResult:
    return EXECUTOR.run(problem, program)


def make_problem(tests: list[Case], kind: str = "function", function: str | None = "f",
                 compare: Compare | None = None, assets: dict[str, bytes] | None = None,
                 **limits: float) -> Problem:
    """A problem built in the test; limits default to quick ones."""
    base = {"cpu_seconds": 1.0, "wall_seconds": 2.0}
    return Problem(
        id="fixture", title="fixture", description="", template="", kind=kind,  # type: ignore[arg-type]
        function=function if kind == "function" else None, tests=tuple(tests), solutions=(),
        assets=assets or {}, compare=compare or Compare(), limits=Limits(**{**base, **limits}),
    )


def fn_problem(*cases: tuple[tuple, object], **kwargs: object) -> Problem:
    return make_problem([Case(name=f"t{i}", args=args, expected=exp) for i, (args, exp) in enumerate(cases)],
                        **kwargs)  # type: ignore[arg-type]


IDENTITY = fn_problem(((1,), 1))


# --- every problem of the bank ---------------------------------------------------------


@pytest.mark.parametrize("problem_id", BANK.ids())
def test_bank_reference_solutions_pass(problem_id: str) -> None:
    problem = BANK.get(problem_id)
    for solution in problem.solutions:
        result = run_program(problem, solution)
        assert result.correct, result.first_failure_text()
        assert result.status == "passed"
        assert all(t.status == "passed" for t in result.tests)


@pytest.mark.parametrize("problem_id", BANK.ids())
def test_bank_incorrect_programs_fail(problem_id: str) -> None:
    problem = BANK.get(problem_id)
    wrong = {
        "template": problem.template,
        "empty": "",
        "returns None": f"def {problem.function}(*args, **kwargs):\n    return None\n"
        if problem.kind == "function" else "print('not the answer')\n",
        "raises": f"def {problem.function}(*args, **kwargs):\n    raise ValueError('nope')\n"
        if problem.kind == "function" else "raise ValueError('nope')\n",
    }
    for label, program in wrong.items():
        result = run_program(problem, program)
        assert not result.correct, label
        assert result.status != "passed", label
        assert result.first_failure_text(), label


# --- results a student can use -----------------------------------------------------------


FACTORIAL = BANK.get("factorial")


def test_wrong_answer_first_failure_in_one_line() -> None:
    result = run_program(FACTORIAL, "def factorial(n):\n    return 0 if n == 0 else n * factorial(n - 1)\n")
    assert result.status == "wrong_answer"
    assert result.first_failure_text() == "factorial(0) returned 0, expected 1"
    assert result.tests[0].actual == "0" and result.tests[0].expected == "1"
    assert result.run_time > 0 and result.cpu_time > 0


def test_exception_reports_type_message_and_line_in_the_program() -> None:
    program = "def factorial(n):\n    x = 1\n    return x // (n - n)\n"
    result = run_program(FACTORIAL, program)
    assert result.status == "exception"
    failure = result.tests[0]
    assert failure.error == "ZeroDivisionError: integer division or modulo by zero (line 3)"
    assert failure.line == 3
    assert result.first_failure_text() == (
        "factorial(0) raised ZeroDivisionError: integer division or modulo by zero (line 3), expected 1")


def test_line_is_the_programs_own_not_a_library_frame() -> None:
    program = "import json\n\ndef factorial(n):\n    return json.loads('{')\n"
    result = run_program(FACTORIAL, program)
    assert result.tests[0].error.startswith("JSONDecodeError")
    assert result.tests[0].line == 4


def test_syntax_error_is_a_compile_error_with_its_line() -> None:
    result = run_program(FACTORIAL, "def factorial(n):\n    return n +\n")
    assert result.status == "compile_error"
    assert not result.correct
    assert "SyntaxError" in result.error and "(line 2)" in result.error
    assert all(t.status == "exception" for t in result.tests)


def test_null_bytes_in_the_source_are_a_compile_error() -> None:
    assert run_program(FACTORIAL, "def factorial(n):\x00\n").status == "compile_error"


def test_error_while_loading_fails_every_test() -> None:
    result = run_program(FACTORIAL, "import nosuchmodule\n")
    assert result.status == "exception"
    assert "ModuleNotFoundError" in result.error
    assert all("ModuleNotFoundError" in t.error for t in result.tests)


def test_missing_function() -> None:
    result = run_program(FACTORIAL, "def fact(n):\n    return 1\n")
    assert result.tests[0].error == "NameError: function 'factorial' is not defined"


def test_printed_output_is_captured_and_the_main_block_skipped() -> None:
    program = (
        "import sys\nprint('loading')\n"
        "def factorial(n):\n    print('called', n)\n    print('warn', file=sys.stderr)\n"
        "    return 1 if n < 2 else n * factorial(n - 1)\n"
        "if __name__ == '__main__':\n    print(factorial(int(input())))\n"
    )
    result = run_program(FACTORIAL, program)
    assert result.correct, result.first_failure_text()
    assert result.output.startswith("loading\ncalled 0\nwarn\ncalled 1\n")


def test_exit_and_quit_exist_in_the_programs_builtins() -> None:
    result = run_program(fn_problem(((1,), [True, True])),
                         "def f(x):\n    return [callable(exit), callable(quit)]\n")
    assert result.correct, result.first_failure_text()


def test_standard_library_imports_work() -> None:
    program = (
        "import math, collections, itertools, functools, re, json, csv, decimal, fractions, heapq\n"
        "import datetime, zoneinfo, string, textwrap, statistics, random, array, struct, hashlib, sqlite3\n"
        "def f(x):\n    return [math.factorial(5), json.dumps([1]), str(decimal.Decimal('1.5') * 2),\n"
        "            sqlite3.connect(':memory:').execute('select 6*7').fetchone()[0]]\n"
    )
    result = run_program(fn_problem(((1,), [120, "[1]", "3.0", 42])), program)
    assert result.correct, result.first_failure_text()


def test_threads_are_allowed() -> None:
    program = (
        "import threading\ndef f(x):\n    out = []\n"
        "    ts = [threading.Thread(target=out.append, args=(i,)) for i in range(4)]\n"
        "    [t.start() for t in ts]; [t.join() for t in ts]\n    return sorted(out)\n"
    )
    assert run_program(fn_problem(((1,), [0, 1, 2, 3])), program).correct


def test_assets_are_in_the_work_directory() -> None:
    problem = fn_problem((("assets/data.txt",), "hello\n"), assets={"assets/data.txt": b"hello\n"})
    program = "def f(path):\n    with open(path) as fh:\n        return fh.read()\n"
    result = run_program(problem, program)
    assert result.correct, result.first_failure_text()


def test_the_work_directory_is_fresh_private_and_writable() -> None:
    program = (
        "import os, stat, tempfile\n"
        "def f(x):\n"
        "    before = sorted(os.listdir('.'))\n"
        "    with open('scratch.txt', 'w') as fh:\n        fh.write('x')\n"
        "    with tempfile.NamedTemporaryFile() as t:\n        pass\n"
        "    return [before, oct(stat.S_IMODE(os.stat('.').st_mode))]\n"
    )
    problem = fn_problem(((1,), [[], "0o700"]), ((2,), [["scratch.txt"], "0o700"]))
    result = run_program(problem, program)
    assert result.tests[0].passed, result.tests[0].describe()
    # the second call of the same run sees the first one's file: one directory per run
    assert result.tests[1].passed, result.tests[1].describe()
    assert run_program(problem, program).tests[0].passed  # and the next run starts afresh


def test_recursion_limit_of_the_problem() -> None:
    program = "def f(n):\n    return 0 if n == 0 else 1 + f(n - 1)\n"
    problem = fn_problem(((500,), 500), ((5000,), 5000), recursion_limit=1000)
    result = run_program(problem, program)
    assert result.tests[0].passed
    assert result.tests[1].status == "exception" and "RecursionError" in result.tests[1].error
    assert result.tests[1].line == 2


# --- type-strict comparison ------------------------------------------------------------------


@pytest.mark.parametrize(("returned", "expected", "ok"), [
    ("True", 1, False), ("1", True, False), ("'3'", 3, False), ("3", "3", False), ("3.0", 3, False),
    ("(1, 2)", [1, 2], False), ("[1, 2]", [1, 2], True), ("None", None, True), ("0", None, False),
    ("{1: 'a'}", {1: "a"}, True), ("{'1': 'a'}", {1: "a"}, False), ("{1: True}", {1: 1}, False),
    ("{1, 2}", {1, 2}, True), ("{True}", {1}, False), ("[[1], {'a': (2,)}]", [[1], {"a": (2,)}], True),
    ("float('nan')", float("nan"), False), ("10**40", 10**40, True),
])
def test_type_strict(returned: str, expected: object, ok: bool) -> None:
    result = run_program(fn_problem(((0,), expected)), f"def f(x):\n    return {returned}\n")
    assert result.correct is ok, result.first_failure_text()


def test_float_tolerance_only_where_the_problem_says_so() -> None:
    program = "def f(x):\n    return 0.1 + 0.2\n"
    assert not run_program(fn_problem(((0,), 0.3)), program).correct
    assert run_program(fn_problem(((0,), 0.3), compare=Compare(float_tolerance=1e-9)), program).correct
    whole = "def f(x):\n    return 5.0\n"
    assert run_program(fn_problem(((0,), 5), compare=Compare(float_tolerance=1e-9)), whole).correct
    assert not run_program(fn_problem(((0,), 5)), whole).correct
    assert not run_program(fn_problem(((0,), 5), compare=Compare(float_tolerance=1e-9)),
                           "def f(x):\n    return True\n").correct


def test_unordered_only_where_the_problem_says_so() -> None:
    program = "def f(x):\n    return [3, 1, 2, 1]\n"
    assert not run_program(fn_problem(((0,), [1, 1, 2, 3])), program).correct
    unordered = Compare(unordered=True)
    assert run_program(fn_problem(((0,), [1, 1, 2, 3]), compare=unordered), program).correct
    assert not run_program(fn_problem(((0,), [1, 2, 2, 3]), compare=unordered), program).correct
    assert not run_program(fn_problem(((0,), [1, 1, 2, 3]), compare=unordered),
                           "def f(x):\n    return [3, 1, 2, True]\n").correct


def test_values_equal_directly() -> None:
    rules = Compare()
    assert values_equal({"a": [1, (2, 3)]}, {"a": [1, (2, 3)]}, rules)
    assert not values_equal({"a": [1, (2, 3)]}, {"a": [1, [2, 3]]}, rules)
    assert not values_equal(frozenset({1}), {1}, rules)


def test_inputs_keep_their_types() -> None:
    program = "def f(*args, **kwargs):\n    return [type(a).__name__ for a in args] + sorted(kwargs)\n"
    problem = make_problem([Case(name="t", args=(1, "1", 1.0, True, None, [1], {"k": 1}, {2: 3}),
                                     kwargs={"z": 1}, expected=["int", "str", "float", "bool", "NoneType",
                                                                "list", "dict", "dict", "z"])])
    assert run_program(problem, program).correct


def test_values_that_cannot_be_checked_are_wrong_answers() -> None:
    result = run_program(fn_problem(((0,), 1)), "class One(int):\n    pass\ndef f(x):\n    return One(1)\n")
    assert result.status == "wrong_answer"
    assert result.tests[0].actual == "<a value of type One, which cannot be checked>"
    result = run_program(fn_problem(((0,), 1)), "def f(x):\n    return object()\n")
    assert result.status == "wrong_answer"
    huge = run_program(fn_problem(((0,), 1)), "def f(x):\n    return list(range(10**6))\n")
    assert huge.status == "wrong_answer" and "too many items" in huge.tests[0].actual


# --- stdin / stdout problems ---------------------------------------------------------------------


def stdio_problem(*cases: tuple[str, str], whitespace: str = "rstrip_lines") -> Problem:
    return make_problem([Case(name=f"t{i}", stdin=i_, expected=o) for i, (i_, o) in enumerate(cases)],
                        kind="stdio", compare=Compare(whitespace=whitespace))  # type: ignore[arg-type]


ADD = stdio_problem(("1 2\n", "3\n"), ("10 -4\n", "6\n"))


@pytest.mark.parametrize("program", [
    "a, b = map(int, input().split())\nprint(a + b)\n",
    "import sys\na, b = map(int, sys.stdin.read().split())\nsys.stdout.write(f'{a + b}\\n')\n",
    "a, b = map(int, open(0).read().split())\nprint(a + b)\n",
    "import sys\na, b = map(int, sys.stdin.buffer.read().split())\n"
    "sys.stdout.buffer.write(b'%d\\n' % (a + b))\n",
    "import os\na, b = map(int, os.read(0, 100).split())\nos.write(1, b'%d\\n' % (a + b))\n",
    "a, b = map(int, input().split())\nprint(a + b)\nexit()\n",
    "def main():\n    a, b = map(int, input().split())\n    print(a + b)\n\n"
    "if __name__ == '__main__':\n    main()\n",
    "from dataclasses import dataclass\n@dataclass\nclass P:\n    a: int\n"
    "print(sum(P(int(x)).a for x in input().split()))\n",
])
def test_stdio_ways_of_reading_and_writing(program: str) -> None:
    result = run_program(ADD, program)
    assert result.correct, result.first_failure_text()


def test_stdio_wrong_answer_reads_well() -> None:
    result = run_program(ADD, "print(4)\n")
    assert result.status == "wrong_answer"
    assert result.first_failure_text() == "for input '1 2\\n' the program printed '4\\n', expected '3\\n'"
    assert result.tests[0].kind == "stdio"


def test_stdio_whitespace_rules() -> None:
    sloppy = "print('3   ')\nprint()\n"
    assert run_program(stdio_problem(("", "3\n")), sloppy).correct  # rstrip_lines (default)
    assert not run_program(stdio_problem(("", "3\n"), whitespace="exact"), sloppy).correct
    assert run_program(stdio_problem(("", "3\n"), whitespace="exact"), "print(3)\n").correct
    assert run_program(stdio_problem(("", "1 2\n3\n"), whitespace="tokens"), "print('1\\n2 3')\n").correct
    assert not run_program(stdio_problem(("", "1 2\n3\n")), "print('1\\n2 3')\n").correct


def test_stdio_exit_status() -> None:
    assert run_program(stdio_problem(("", "ok\n")), "print('ok')\nimport sys\nsys.exit(0)\n").correct
    result = run_program(stdio_problem(("", "ok\n")), "print('ok')\nimport sys\nsys.exit(3)\n")
    assert result.status == "exception" and result.tests[0].error.startswith("SystemExit: 3")


def test_stdio_each_test_gets_its_own_input_and_fresh_globals() -> None:
    program = "import sys\ntry:\n    seen\nexcept NameError:\n    seen = 0\nprint(input(), seen)\nseen = 1\n"
    problem = stdio_problem(("a\n", "a 0\n"), ("b\n", "b 0\n"))
    assert run_program(problem, program).correct


def test_stdio_exception_line_and_missing_input() -> None:
    result = run_program(ADD, "x = 1\ny = input()\nz = input()\n")
    assert result.status == "exception"
    assert result.tests[0].error == "EOFError: EOF when reading a line (line 3)"


def test_stdio_stderr_goes_to_the_output_excerpt() -> None:
    result = run_program(ADD,
                         "import sys\nprint('debug', file=sys.stderr)\n"
                         "print(sum(map(int, input().split())))\n")
    assert result.correct
    assert result.output == "debug\ndebug\n"


# --- the result object ------------------------------------------------------------------------


def test_result_round_trips_through_a_dict() -> None:
    result = run_program(FACTORIAL, "def factorial(n):\n    return 0\n")
    data = result.to_dict()
    assert data["first_failure"] == "factorial(0) returned 0, expected 1"
    # Every field is kept but the decoded return values, which stay in the worker (the differential check's).
    assert set(data) == set(RunResult.__dataclass_fields__) - {"returned"} | {"first_failure"}
    assert "returned" not in data and result.returned == (0,) * len(FACTORIAL.tests)
    assert all(set(t) == set(OneTestResult.__dataclass_fields__) for t in data["tests"])
    again = RunResult.from_dict(data)
    assert again == result
    assert RunResult.from_dict({"correct": False, "status": "crashed", "tests": [
        {"name": "a", "status": "crashed", "call": "f()", "expected": "1"}]}).tests[0].kind == "function"


def test_a_run_leaves_no_files_and_no_processes() -> None:
    executor = EXECUTOR
    base = Path(executor._get_server().base_dir)
    program = "import threading, time\ndef factorial(n):\n    open('junk', 'w').write('x' * 1000)\n" \
              "    threading.Thread(target=time.sleep, args=(60,)).start()\n    return 1\n"
    run_program(FACTORIAL, program)
    leftovers = [p.name for p in base.iterdir() if p.name not in ("python", "server.lock")]
    assert leftovers == []
    assert _sandbox_processes() == []


def _sandbox_processes() -> list[int]:
    """Processes running under any of the per-run uids (the server's block)."""
    info = EXECUTOR.info()
    if info.get("uid_base") is None:
        return []
    low, high = info["uid_base"], info["uid_base"] + 64
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                uid = os.stat(f"/proc/{entry}").st_uid
            except OSError:
                continue
            if low <= uid < high:
                found.append(int(entry))
    return found


# --- speed and concurrency --------------------------------------------------------------------


def test_concurrent_runs_do_not_wait_for_each_other() -> None:
    slow = fn_problem(((1,), 1), wall_seconds=3.0, cpu_seconds=3.0)
    results: dict[str, RunResult] = {}
    finished: dict[str, float] = {}
    started = time.monotonic()

    def go(name: str, problem: Problem, program: str) -> None:
        results[name] = run_program(problem, program)
        finished[name] = time.monotonic() - started

    threads = [threading.Thread(target=go, args=("slow", slow, "import time\ndef f(x):\n    time.sleep(1.5)\n"
                                                           "    return x\n"))]
    threads += [threading.Thread(target=go, args=(f"quick{i}", IDENTITY,
                                                  f"def f(x):\n    return x + {i % 2}\n"))
                for i in range(8)]
    threads[0].start()
    time.sleep(0.2)  # the slow run is under way
    for t in threads[1:]:
        t.start()
    for t in threads:
        t.join()
    assert results["slow"].correct
    for i in range(8):
        assert results[f"quick{i}"].correct is (i % 2 == 0)
        assert finished[f"quick{i}"] < 1.4, finished  # none waited for the slow run
    assert finished["slow"] >= 1.5


def test_a_run_is_fast() -> None:
    run_program(IDENTITY, "def f(x):\n    return x\n")
    times = []
    for _ in range(15):
        started = time.perf_counter()
        run_program(IDENTITY, "def f(x):\n    return x\n")
        times.append(time.perf_counter() - started)
    assert sorted(times)[len(times) // 2] < 0.1  # a few ms on an idle machine; generous under load


def test_problem_limits_are_respected_per_run() -> None:
    fast = replace(IDENTITY, limits=replace(IDENTITY.limits, wall_seconds=0.5, cpu_seconds=0.5))
    started = time.monotonic()
    result = run_program(fast, "import time\ndef f(x):\n    time.sleep(5)\n")
    assert result.status == "timeout"
    assert time.monotonic() - started < 2


def test_more_runs_than_slots_wait_for_a_slot_not_for_a_timeout() -> None:
    """A server runs 64 programs at once; more wait in its queue, and their wall clock
    starts only when they start."""
    problem = fn_problem(((1,), 1), wall_seconds=1.0, cpu_seconds=1.0)
    results: list[RunResult] = []
    threads = [threading.Thread(target=lambda: results.append(
        run_program(problem,
                    "import time\ndef f(x):\n    time.sleep(0.3)\n    return x\n"))) for _ in range(70)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.status for r in results] == ["passed"] * 70


def test_stdin_is_empty_for_function_problems() -> None:
    result = run_program(fn_problem(((0,), "x")), "def f(x):\n    return input()\n")
    assert result.tests[0].error == "EOFError: EOF when reading a line (line 2)"


# --- the worker's side of the channel, fed hostile bytes directly --------------------------------


def test_wire_round_trips_and_rejects_what_it_cannot_carry() -> None:
    from hint_core.sandbox import wire
    value = [None, True, 1, 2.5, "s", (1, (2,)), {1, 2}, frozenset({"a"}), {1: [2], "k": {(1, 2): None}}]
    assert wire.decode(wire.encode(value)) == value
    for bad in (object(), b"bytes", type("Sub", (int,), {})(1), _nested(70), "x" * 1_000_001,
                list(range(100_001)), 10 ** 5000):
        with pytest.raises(wire.BadValue):
            wire.encode(bad)
    for bad in ({"t": 1}, {"x": []}, {"d": [[1]]}, {"s": [[1]]}, {"d": [[[1], 2]]}, {"t": [], "s": []},
                _nested(70), ["x" * 600_000, "y" * 600_000]):
        with pytest.raises(wire.BadValue):
            wire.decode(bad)
    with pytest.raises(wire.BadValue):
        wire.loads_record(b"[" * 100_000)
    with pytest.raises(wire.BadValue):
        wire.loads_record(b"\xff\xfe")


def _nested(depth: int) -> list:
    value: list = []
    for _ in range(depth):
        value = [value]
    return value


def test_records_are_accepted_only_when_well_formed() -> None:
    from hint_core.sandbox.verdict import _MALFORMED, parse_records
    raw = b"\n".join([
        b'{"static": {"forbidden": ["uses sorted(), which this exercise forbids (line 1)"]}}',
        b'{"i": 0, "value": 1}',
        b'{"i": 1, "value": 2}', b'{"i": 1, "value": 2}',  # duplicate
        b'{"i": 2, "value": {"s": [[1]]}}',  # undecodable value
        b'{"i": true, "value": 1}', b'{"i": 9, "value": 1}', b'{"i": 3, "value": 1, "passed": true}',
        b'{"i": 3, "error": {"type": "E", "message": "m"}}',  # error without a line
        b'{"setup_error": "late: a claim of the program, ignored"}',
        b'{"static": {"forbidden": []}}',  # late: a claim of the program, ignored
        b'{"i": 4, "limit": "output"}', b'{"i": 5, "unsupported": "a value of type X"}',
        b'{"correct": true}', b'not json', b'{"i": 6, "value": 7}',  # the last one is cut off (no newline)
    ])
    records = parse_records(raw, 7)
    per_test = records.per_test
    assert records.setup_error is None and records.program_error is None
    assert records.static == {"forbidden": ["uses sorted(), which this exercise forbids (line 1)"]}
    assert per_test[0] == [{"value": 1}]
    assert len(per_test[1]) == 2
    assert per_test[2] == [_MALFORMED]
    assert per_test[3] == [_MALFORMED]  # a bad error record still counts against its test
    assert 6 not in per_test
    assert per_test[4] == [{"limit": "output"}] and per_test[5] == [{"unsupported": "a value of type X"}]
    assert parse_records(b'{"setup_error": "mount failed"}\n', 1).setup_error == "mount failed"
    assert parse_records(b'{"static": {"forbidden": "sorted"}}\n', 1).static is None  # malformed: no claim


def test_a_payload_larger_than_the_socket_buffer() -> None:
    data = bytes(range(256)) * 3600  # 900 KiB of assets: more than fits before the child starts
    problem = fn_problem((("assets/big.bin",), [len(data), 255]), assets={"assets/big.bin": data})
    program = "def f(path):\n    content = open(path, 'rb').read()\n    return [len(content), content[-1]]\n"
    result = run_program(problem, program)
    assert result.correct, result.first_failure_text()
