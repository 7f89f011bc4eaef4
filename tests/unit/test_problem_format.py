"""problem.yaml as instructors write it: Python-form values (tuples, sets, frozensets),
several functions, setup code, comparison options, forbidden constructs, transforms,
unknown keys and YAML mistakes explained; and the verdicts the sandbox gives on them."""

from __future__ import annotations

import math
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest

from hint_core.literals import LiteralError, parse_value, value_text
from hint_core.problems import Compare, Forbid, Limits, Problem, ProblemBank, ProblemError, load_problem_dir
from hint_core.problems import TestCase as Case
from hint_core.sandbox import ForkServerExecutor, SandboxConfig, Status, too_complex
from hint_core.sandbox.results import values_equal

EXECUTOR = ForkServerExecutor(SandboxConfig())
STRICT = Compare()


def write(tmp_path: Path, spec: str, solutions: dict[str, str] | None = None, name: str = "prob") -> Path:
    folder = tmp_path / name
    (folder / "solutions").mkdir(parents=True)
    (folder / "problem.yaml").write_text(textwrap.dedent(spec))
    for file, text in (solutions or {}).items():
        (folder / "solutions" / file).write_text(textwrap.dedent(text))
    return folder


def load(tmp_path: Path, spec: str) -> Problem:
    return load_problem_dir(write(tmp_path, spec))


def error_of(tmp_path: Path, spec: str) -> str:
    with pytest.raises(ProblemError) as raised:
        load(tmp_path, spec)
    return str(raised.value)


def same(a: object, b: object) -> bool:
    """Equal and of the same types all the way down (== alone says True == 1, [] == ())."""
    return values_equal(a, b, STRICT) and values_equal(b, a, STRICT)


# --- values written as Python text ------------------------------------------------------------

VALUES = [
    (), (1,), (5, 15), [], [(1, 2), (3, 4)], set(), {1, 2}, frozenset(), frozenset({1, (2, 3)}),
    {"a": (1, [2, {3}])}, {(1, 2): frozenset({"x"})}, {1: "one", 2: None}, 0, -7, 2**70, 0.1, -0.0,
    float("inf"), float("-inf"), True, False, None, "", "it's \"quoted\"\n\ttab", "ünïcode ✓",
    [[[[(((),),)]]]],
]


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_value_text_round_trips_exactly(value: object) -> None:
    assert same(parse_value(value_text(value)), value)


def test_nan_round_trips_as_nan() -> None:
    assert math.isnan(parse_value(value_text(float("nan"))))


@pytest.mark.parametrize("text", ["hello", "f(1)", "1 + 2", "b'x'", "{**a}", "{[1]: 2}", "{[1]}",
                                  "__import__('os')",
                                  "lambda: 1", "[1, 2", "x.y", "frozenset(1)", "float('1.5')"])
def test_text_that_is_no_value_is_refused(text: str) -> None:
    with pytest.raises(LiteralError):
        parse_value(text)


PYTHON_FORM = """
    description: Which birthdays are possible.
    template: |
      def birthday(month_day, possible):
          pass
    function: birthday
    tests:
      - call: birthday((5, 15), [])
        expected: ()
      - {call: "birthday((5, 15), [(5, 15), (6, 17)])", expected: "(5, 15)"}
      - call: birthday(frozenset({1, 2}), {(1, 2)})
        expected: "{frozenset({1, 2}), (1, 2)}"
      - call: "birthday(set(), possible=[{'a': (1,)}])"
        expected: [True, False, 1, 0.5, None, 'text', "more text"]
      - call: "birthday('quote: inside', ' #not a comment')"
        expected: "'a: b'"
"""


def test_python_form_reads_exactly_what_was_written(tmp_path) -> None:
    tests = load(tmp_path, PYTHON_FORM).tests
    assert same(tests[0].args, ((5, 15), [])) and same(tests[0].expected, ())
    assert same(tests[1].args, ((5, 15), [(5, 15), (6, 17)])) and same(tests[1].expected, (5, 15))
    assert same(tests[2].args, (frozenset({1, 2}), {(1, 2)})) and same(tests[2].expected, {frozenset({1, 2}),
                                                                                           (1, 2)})
    assert same(tests[3].args, (set(),)) and same(tests[3].kwargs, {"possible": [{"a": (1,)}]})
    assert same(tests[3].expected, [True, False, 1, 0.5, None, "text", "more text"])
    assert tests[4].args == ("quote: inside", " #not a comment") and tests[4].expected == "a: b"


def test_values_cross_the_sandbox_and_back_unchanged(tmp_path) -> None:
    """What the file says is what the program receives, and what it returns is compared
    with the value the file says: an identity function passes every test."""
    problem = load(tmp_path, """
        description: Identity.
        template: "def echo(*args, **kwargs): pass"
        function: echo
        tests:
          - {call: "echo(())", expected: "((),)"}
          - call: "echo(frozenset({1, (2, 3)}), {'k': {1, 2}})"
            expected: "(frozenset({1, (2, 3)}), {'k': {1, 2}})"
          - call: "echo({(1, 2): [frozenset()]}, x=float('-inf'))"
            expected: "({(1, 2): [frozenset()]}, float('-inf'))"
    """)
    echo = "def echo(*args, **kwargs):\n    return args + tuple(kwargs.values())\n"
    result = EXECUTOR.run(problem, echo)
    assert result.correct, result.first_failure_text()
    as_list = "def echo(*args, **kwargs):\n    return list(args)\n"  # a list is not a tuple
    assert [t.status for t in EXECUTOR.run(problem, as_list).tests] == ["wrong_answer"] * 3


def test_an_empty_tuple_is_not_an_empty_list(tmp_path) -> None:
    problem = load(tmp_path, PYTHON_FORM)
    returns_list = "def birthday(month_day, possible):\n    return []\n"
    result = EXECUTOR.run(problem, returns_list)
    assert result.tests[0].status == "wrong_answer"
    assert result.tests[0].describe() == "birthday((5, 15), []) returned [], expected ()"


@pytest.mark.parametrize("expected, message", [
    ("hello", "'expected' is `hello` is not a plain value (a text needs Python quotes inside YAML's"),
    ("null", "(write None, as in Python)"),
    ("'(1, 2'", "not valid Python"),
])
def test_python_form_mistakes_are_explained(tmp_path, expected: str, message: str) -> None:
    spec = ("description: d\ntemplate: t\nfunction: f\ntests:\n"
            f"  - name: one\n    call: f(1)\n    expected: {expected}\n")
    text = error_of(tmp_path, spec)
    assert text.startswith("prob: problem.yaml, line 7: tests[0]: 'expected' is") and message in text


def test_a_call_of_another_function_is_refused(tmp_path) -> None:
    text = error_of(tmp_path,
                    "description: d\ntemplate: t\nfunction: f\ntests:\n  - {call: g(1), expected: '1'}\n")
    assert text.startswith("prob: problem.yaml, line 5: tests[0]: 'call' is not a call of the function f")


# --- several functions, setup code ----------------------------------------------------------------


MULTI = """
    description: Three small functions.
    template: |
      def area(w, h):
          pass
    functions: [area, perimeter, describe]
    setup: |
      import math
      UNIT = "cm"
    tests:
      - {args: [2, 3], expected: 6}
      - {function: perimeter, args: [2, 3], expected: 10}
      - {call: "describe(2, 3)", expected: "'6 cm2'"}
      - {call: "area(1, 1)", expected: "1"}
"""
MULTI_OK = """
def area(w, h):
    return w * h

def perimeter(w, h):
    return 2 * (w + h)

def describe(w, h):
    return f"{area(w, h)} {UNIT}2"
"""


def test_several_functions_each_test_names_its_own(tmp_path) -> None:
    problem = load(tmp_path, MULTI)
    assert problem.function == "area" and problem.functions == ("area", "perimeter", "describe")
    assert [problem.test_function(t) for t in problem.tests] == ["area", "perimeter", "describe", "area"]
    assert problem.tests[1].call_text(problem.function) == "perimeter(2, 3)"
    result = EXECUTOR.run(problem, MULTI_OK)
    assert result.correct, result.first_failure_text()
    partial = EXECUTOR.run(problem, "def area(w, h):\n    return w * h\n")
    assert [t.status for t in partial.tests] == ["passed", "exception", "exception", "passed"]
    assert partial.tests[1].error == "NameError: function 'perimeter' is not defined"


def test_setup_code_runs_before_the_program_in_its_namespace(tmp_path) -> None:
    problem = load(tmp_path, MULTI)
    uses_import = MULTI_OK.replace("return 2 * (w + h)", "return math.floor(2 * (w + h) + 0.5)")
    assert EXECUTOR.run(problem, uses_import).correct


def test_an_error_in_the_setup_code_is_not_blamed_on_the_program(tmp_path) -> None:
    problem = load(tmp_path, MULTI.replace('UNIT = "cm"', 'UNIT = 1 / 0'))
    result = EXECUTOR.run(problem, MULTI_OK)
    assert not result.correct
    assert result.error == "ZeroDivisionError: in the problem's setup code: division by zero"
    assert all(t.line is None for t in result.tests)


def test_setup_code_with_a_syntax_error_is_refused_when_loading(tmp_path) -> None:
    text = error_of(tmp_path, MULTI.replace('UNIT = "cm"', "UNIT = (("))
    assert "field 'setup' is not valid Python" in text and "line 2 of the setup code" in text


def test_setup_code_in_a_stdio_problem(tmp_path) -> None:
    problem = load(tmp_path, """
        description: Greet.
        template: print()
        kind: stdio
        setup: GREETING = "Hi"
        tests: [{stdin: "Ann\\n", expected: "Hi, Ann\\n"}]
    """)
    assert EXECUTOR.run(problem, "print(f'{GREETING}, {input()}')\n").correct


# --- comparison options ------------------------------------------------------------------------------


@pytest.mark.parametrize("returned, expected, strict, lenient", [
    (False, 0, False, True), (True, 1, False, True), (0, False, False, True), (True, 2, False, False),
    ([True, 0], [1, False], False, True), ({True}, {1}, False, True), ({1: False}, {True: 0}, False, True),
    ("0", False, False, False), (0.0, False, False, False),
])
def test_bool_and_int_are_equal_only_when_the_problem_says_so(returned, expected, strict, lenient) -> None:
    assert values_equal(returned, expected, Compare()) is strict
    assert values_equal(returned, expected, Compare(bool_as_int=True)) is lenient


def test_bool_as_int_through_the_sandbox(tmp_path) -> None:
    spec = "description: d\ntemplate: t\nfunction: f\n{compare}tests:\n  - {{args: [1], expected: 0}}\n"
    program = "def f(x):\n    return False\n"
    assert not EXECUTOR.run(load(tmp_path, spec.format(compare="")), program).correct
    (tmp_path / "prob" / "problem.yaml").write_text(spec.format(compare="compare: {bool_as_int: true}\n"))
    assert EXECUTOR.run(load_problem_dir(tmp_path / "prob"), program).correct


# --- transforms --------------------------------------------------------------------------------------


def test_transforms_apply_on_the_parent_side(tmp_path) -> None:
    problem = load(tmp_path, """
        description: d
        template: t
        function: f
        tests:
          - {call: "f(3).strip()", expected: "'3'"}
          - {call: "sorted(f(3).split())", expected: "['3']"}
          - {call: "len(f(3).split())", expected: "1"}
    """)
    assert [t.call_text(problem.function) for t in problem.tests] == ["f(3).strip()", "sorted(f(3).split())",
                                                                      "len(f(3).split())"]
    assert EXECUTOR.run(problem, "def f(x):\n    return f' {x}\\n'\n").correct
    wrong = EXECUTOR.run(problem, "def f(x):\n    return x\n")
    assert wrong.tests[0].describe() == (
        "f(3) returned 3 (not a text, so .strip() does not apply), "
        "expected a value for which f(3).strip() is '3'")


# --- forbidden constructs -----------------------------------------------------------------------------


FORBID = """
    description: Sort without sorting.
    template: "def order(xs): pass"
    function: order
    forbid:
      calls: [sorted, sort, heapq.heappush]
      names: [min]
      imports: [itertools]
    tests:
      - {args: [[3, 1, 2]], expected: [1, 2, 3]}
"""


@pytest.mark.parametrize("program, message", [
    ("def order(xs):\n    return sorted(xs)\n", "uses sorted(), which this exercise forbids (line 2)"),
    ("def order(xs):\n    xs.sort()\n    return xs\n", "uses .sort(), which this exercise forbids (line 2)"),
    ("def order(xs):\n    return list(sorted(xs, key=min))\n",
     "uses sorted(), which this exercise forbids (line 2); uses min, which this exercise forbids (line 2)"),
    ("import itertools as it\ndef order(xs):\n    return [1, 2, 3]\n",
     "imports itertools, which this exercise forbids (line 1)"),
    ("from itertools import chain\ndef order(xs):\n    return [1, 2, 3]\n", "imports itertools"),
    ("def order(xs):\n    m = __import__('itertools')\n    return [1, 2, 3]\n", "imports itertools"),
    ("from heapq import heappush as push\ndef order(xs):\n    h = []\n    for x in xs:\n        push(h, x)\n"
     "    return [1, 2, 3]\n", "uses heapq.heappush(), which this exercise forbids (line 5)"),
])
def test_forbidden_constructs_get_their_own_verdict(tmp_path, program: str, message: str) -> None:
    problem = load(tmp_path, FORBID)
    result = EXECUTOR.run(problem, program)
    assert not result.correct
    assert result.status == Status.FORBIDDEN == "forbidden"
    assert message in result.error and result.first_failure_text() == result.error
    assert result.to_dict()["first_failure"] == result.error


def test_a_program_without_forbidden_constructs_is_judged_as_usual(tmp_path) -> None:
    problem = load(tmp_path, FORBID)
    selection = ("def order(xs):\n    out = list(xs)\n    for i in range(len(out)):\n"
                 "        j = out.index(max(out[i:]), i)\n        out[i], out[j] = out[j], out[i]\n"
                 "    return out[::-1]\n")
    assert EXECUTOR.run(problem, selection).correct
    assert EXECUTOR.run(problem, "def order(xs):\n    return xs\n").status == "wrong_answer"


def test_forbid_lists_are_checked_when_loading(tmp_path) -> None:
    assert "forbid.calls must be a list of names" in error_of(tmp_path / "a", FORBID.replace("[sorted, sort",
                                                                                             "[1, sort"))
    assert "forbid.names takes plain names" in error_of(tmp_path / "b", FORBID.replace("names: [min]",
                                                                                       "names: [m.min]"))


# --- unknown keys, YAML mistakes ------------------------------------------------------------------------


@pytest.mark.parametrize("spec, message", [
    ("globals: {X: 1}\ndescription: d\ntemplate: t\nfunction: f\ntests: [{args: [], expected: 1}]\n",
     "unknown field 'globals'"),
    ("description: d\ntemplate: t\nfunction: f\ntests: [{args: [], expect: 1}]\n",
     "tests[0]: unknown key 'expect'; did you mean 'expected'?"),
    ("description: d\ntemplate: t\nfunction: f\ncompare: {unorderd: true}\n"
     "tests: [{args: [], expected: 1}]\n",
     "compare: unknown field 'unorderd'; did you mean 'unordered'?"),
    ("description: d\ntemplate: t\nfunction: f\nforbid: {call: [sorted]}\ntests: [{args: [], expected: 1}]\n",
     "forbid: unknown field 'call'; did you mean 'calls'?"),
    ("description: d\ntemplate: t\nkind: stdio\ntests: [{stdin: '', expected: '1', args: []}]\n",
     "tests[0]: unknown key 'args'"),
    ("description: d\ntemplate: t\nfunction: f\nfunction: g\ntests: [{args: [], expected: 1}]\n",
     "the key 'function' is written twice"),
    ("description: d\ntemplate: t\nfunction: f\ntests: [{args: [], kwargs: {a: 1, a: 2}, expected: 1}]\n",
     "the key 'a' is written twice"),
    ("description: d\ntemplate: t\nfunction: f\nfunctions: [f, g]\ntests: [{args: [], expected: 1}]\n",
     "(or 'functions' list several; not both)"),
    ("description: d\ntemplate: t\nfunctions: [f, g]\ntests: [{function: h, args: [], expected: 1}]\n",
     "'function' must be one of the problem's functions (f, g), not 'h'"),
    ("description: d\ntemplate: t\nkind: stdio\nfunction: f\ntests: [{stdin: '', expected: '1'}]\n",
     "field 'function' is for function problems"),
    ("description: d\ntemplate: t\nfunction: f\ntests: [{call: f(1), args: [1], expected: '1'}]\n",
     "'args' and 'call' cannot be used together"),
])
def test_unknown_or_contradictory_keys_name_the_key_and_line(tmp_path, spec: str, message: str) -> None:
    text = error_of(tmp_path, spec)
    assert text.startswith("prob: problem.yaml, line ") and message in text


@pytest.mark.parametrize("spec, line, words", [
    ("description: d\ntemplate: t\nfunction: f\ntests:\n  - {args: [1], expected: a: b}\n", 5,
     "a ': ' (colon and space) inside a value; put the whole value in quotes"),
    ("description: d\ntemplate: t\nfunction: f\ntests:\n\t- {args: [1], expected: 1}\n", 5,
     "a tab character; YAML indents with spaces only"),
    ("description: 'unclosed\ntemplate: t\nfunction: f\ntests: []\n", 5, "opened but never closed"),
    ("description: d\ntemplate: t\nfunction: f\ntests:\n  - {args: [1], expected: 1}\n   - {args: [2]}\n", 6,
     "indentation"),
    ("description: d\n  template: t\nfunction: f\n", 2, "a ': ' (colon and space) inside a value"),
    ("description: \"a \\q b\"\ntemplate: t\n", 1, "a backslash escape that YAML does not know"),
    ("description: d\ntemplate: t\nfunction: f\ntests:\n  - call: f()\n    expected: {frozenset({1}), 2}\n",
     6,
     "a Python value with nested brackets goes in quotes"),
])
def test_yaml_mistakes_are_explained_with_file_and_line(tmp_path, spec: str, line: int, words: str) -> None:
    text = error_of(tmp_path, spec)
    assert text.startswith(f"prob: problem.yaml, line {line}, column ")
    assert words in text
    assert "yaml." not in text and "<unicode string>" not in text  # no raw PyYAML dump


# --- problems without reference solutions; other code's expectations ------------------------------------


def test_a_problem_without_reference_solutions_loads_and_runs(tmp_path) -> None:
    problem = load(tmp_path, "description: d\ntemplate: t\nfunction: f\ntests: [{args: [2], expected: 4}]\n")
    assert problem.solutions == ()
    assert EXECUTOR.run(problem, "def f(x):\n    return x * 2\n").correct


def test_tests_version_changes_with_tuples_and_sets_but_not_otherwise(tmp_path) -> None:
    base = "description: d\ntemplate: t\nfunction: f\ntests:\n  - {{call: 'f()', expected: \"{e}\"}}\n"
    versions = {}
    for expected in ("[1, 2]", "(1, 2)", "{1, 2}", "frozenset({1, 2})", "{1: 2}", "{'1': 2}"):
        (tmp_path / "prob").mkdir(exist_ok=True)
        (tmp_path / "prob" / "problem.yaml").write_text(base.format(e=expected))
        versions[expected] = load_problem_dir(tmp_path / "prob").tests_version
        assert load_problem_dir(tmp_path / "prob").tests_version == versions[expected]  # stable
    assert len(set(versions.values())) == len(versions)
    # A set's version does not depend on the order its items happen to have.
    one = Problem(id="p", title="p", description="", template="", kind="function", function="f",
                  tests=(Case(name="t", expected={"b", "a", "c"}),), solutions=())
    other = Problem(id="p", title="p", description="", template="", kind="function", function="f",
                    tests=(Case(name="t", expected={"c", "a", "b"}),), solutions=())
    assert one.tests_version == other.tests_version


def test_existing_problems_keep_the_tests_version_they_had() -> None:
    """The version formula gained fields (tuples, functions, setup, forbid); a problem that
    uses none of them must keep its old version, or every stored result would be stale."""
    import hashlib
    import json

    for problem_id in ProblemBank().ids():
        p = ProblemBank().get(problem_id)
        old = json.dumps({
            "kind": p.kind, "function": p.function,
            "compare": {"float_tolerance": p.compare.float_tolerance, "unordered": p.compare.unordered,
                        "whitespace": p.compare.whitespace},
            "tests": [[t.args, t.kwargs, t.stdin, t.expected] for t in p.tests],
            "assets": {k: hashlib.sha256(v).hexdigest() for k, v in sorted(p.assets.items())},
        }, sort_keys=True, default=repr)
        if p.id != "read_file":  # the one problem whose tests use a transform
            assert p.tests_version == hashlib.sha256(old.encode()).hexdigest()[:16], problem_id


def test_limits_and_compare_defaults_are_kept_when_absent(tmp_path) -> None:
    problem = load(tmp_path, "description: d\ntemplate: t\nfunction: f\ntests: [{args: [2], expected: 4}]\n")
    assert problem.limits == Limits() and problem.compare == Compare() and not problem.forbid
    assert problem.functions == ("f",) and problem.setup == ""


# --- programs too complex to check -------------------------------------------------------------------------


CHAINS = {
    "operators": "def f(x):\n    return " + " + ".join(["x"] * 33_000) + "\n",
    "attributes": "def f(x):\n    return x" + ".real" * 20_000 + "\n",
    "calls": "def f(x):\n    return x\ny = int" + "()" * 50_000 + "\n",
    "unary": "def f(x):\n    return " + "-" * 60_000 + "x\n",
}
ONE_TEST = Problem(id="p", title="p", description="", template="", kind="function", function="f",
                   tests=(Case(name="t", args=(1,), expected=1),), solutions=())


@pytest.mark.parametrize("forbid", [Forbid(), Forbid(calls=("sorted",))], ids=["plain", "with forbid rules"])
@pytest.mark.parametrize("kind", list(CHAINS))
def test_pathological_programs_get_a_too_complex_verdict(kind: str, forbid: Forbid) -> None:
    """100,000-character chains: Python cannot even compile them; a clear verdict, never
    an exception (with forbid rules the child parses them first, and gives up as well)."""
    program = CHAINS[kind]
    assert len(program) > 50_000
    result = EXECUTOR.run(replace(ONE_TEST, forbid=forbid), program)
    assert result.status == Status.TOO_COMPLEX and not result.correct
    assert "too deeply" in result.error and result.first_failure_text() == result.error
    assert result.tests[0].error == result.error
    assert too_complex(program) == result.error


def test_a_program_too_long_is_not_even_sent() -> None:
    result = EXECUTOR.run(ONE_TEST, "#" * 1_000_001)
    assert result.status == Status.TOO_COMPLEX
    assert result.error == "the program is too long to check (1,000,001 characters; the limit is 1,000,000)"


def test_deep_but_compilable_programs_run_and_tree_walkers_are_warned() -> None:
    """Nesting that Python compiles runs normally; too_complex() still warns code that
    walks trees recursively (more than 200 levels)."""
    program = "def f(x):\n    return (" + "lambda: " * 400 + "x)\n"
    assert EXECUTOR.run(ONE_TEST, program).status == Status.WRONG_ANSWER  # returned a function
    assert "too deeply" in too_complex(program)
    assert too_complex("def f(x):\n    return (" + "lambda: " * 100 + "x)\n") is None


def test_blocks_nested_beyond_pythons_limit_are_a_compile_error() -> None:
    problem = Problem(id="p", title="p", description="", template="", kind="function", function="f",
                      tests=(Case(name="t", args=(1,), expected=1),), solutions=())
    loops = "".join("    " * i + "for _ in x:\n" for i in range(1, 30))
    program = "def f(x):\n" + loops + "    " * 30 + "pass\n"
    result = EXECUTOR.run(problem, program)
    assert result.status == Status.COMPILE_ERROR and "too many statically nested blocks" in result.error


def test_long_but_flat_programs_run_normally() -> None:
    problem = Problem(id="p", title="p", description="", template="", kind="function", function="f",
                      tests=(Case(name="t", args=(1,), expected=True),), solutions=())
    program = "def f(x):\n    return " + " and ".join(["x == 1"] * 10_000) + "\n"
    assert too_complex(program) is None
    result = EXECUTOR.run(problem, program)
    assert result.correct, result.first_failure_text()


def test_instance_of_demands_a_type_like_isinstance(tmp_path) -> None:
    problem = load(tmp_path, """
        description: d
        template: t
        function: f
        compare: {float_tolerance: 0.0, bool_as_int: true}
        tests:
          - {call: "f(1)", expected: "2", instance_of: int}
          - {args: [1], expected: 2, instance_of: [float, str]}
    """)
    assert [t.instance_of for t in problem.tests] == [("int",), ("float", "str")]
    result = EXECUTOR.run(problem, "def f(x):\n    return 2.0\n")
    assert [t.status for t in result.tests] == ["wrong_answer", "passed"]  # 2.0 == 2 here, but not an int
    assert result.tests[0].describe() == "f(1) returned 2.0 (of type float), expected 2 (of type int)"
    assert "'instance_of' must name types among" in error_of(tmp_path / "x", """
        description: d
        template: t
        function: f
        tests: [{args: [1], expected: 2, instance_of: integer}]
    """)
