"""The offline engine on the evidence it is given: crashes, remote reports, verdicts it does
not know, no correct program at all, long values, and programs no analysis can take.

Runs are built by hand here (what the sandbox or the course's remote execution would
report), except where the point is the real sandbox's report.
"""

from __future__ import annotations

import logging
import re

import pytest

from hint_core import offline
from hint_core.offline import offline_hint
from hint_core.problems import ProblemBank
from hint_core.run_evidence import bounded, failure_of
from hint_core.sandbox import RunResult
from hint_core.sandbox import TestResult as Outcome  # not a test class
from tests.helpers import SANDBOX

run_program = SANDBOX.run  # the session's one sandbox

BANK = ProblemBank()


def wrong(call: str, actual: str, expected: str) -> RunResult:
    return RunResult(False, "wrong_answer", [Outcome("t", "wrong_answer", call, expected, actual=actual)])


def raised(call: str, error: str, line: int) -> RunResult:
    return RunResult(False, "exception", [Outcome("t", "exception", call, "1", error=f"{error} (line {line})",
                                                     line=line)])


def remote(text: str) -> RunResult:
    """What the course's remote execution reports: no tests, the handler's last line."""
    return RunResult(False, "failed", [], output=text, error=text or None)


def hint(problem_id: str, program: str, run: RunResult | None, reference: str | None = "first",
         hint_type: str = "debug", known: tuple[str, ...] | None = None) -> str:
    problem = BANK.get(problem_id)
    chosen = problem.solutions[0] if reference == "first" else reference
    return offline_hint(problem, hint_type, program, run, chosen, 0.001, known).hint


def lines_in(text: str) -> set[int]:
    return {int(n) for n in re.findall(r"\blines? (\d+)", text)}


# --- a program that raises -------------------------------------------------------------------

AVERAGE_TYPO = (
    "def average(numbers):\n    if not numbers:\n        return None\n    total = 0\n"
    "    for number in numbers:\n        total += number\n    return totl / len(numbers)\n"
)


TOTL_UNDEFINED = "NameError: name 'totl' is not defined"


def test_a_crash_names_the_line_it_happened_on_and_keeps_it_in_the_quoted_error():
    program = "def average(numbers):\n    total = sum(numbers)\n    return total / len(numbers)\n"
    made = hint("average", program, raised("average([])", "ZeroDivisionError: division by zero", 3))
    assert "stops with ZeroDivisionError: division by zero on line 3" in made
    assert "divided by zero" in made and made.endswith("?")


def test_a_name_error_names_the_undefined_name_and_the_one_probably_meant():
    made = hint("average", AVERAGE_TYPO, raised("average([1, 2, 3])", TOTL_UNDEFINED, 7))
    assert "`totl`" in made and "`total`" in made and "line 7" in made
    assert "range" not in made  # the hint spoke of "the range of values" here


def test_extend_with_a_number_is_blamed_on_extend_not_on_the_membership_test():
    program = ("def common_elements(a, b):\n    result = []\n    for x in a:\n        if x in b and x not in "
               "result:\n            result.extend(x)\n    return result\n")
    made = hint("common_elements", program,
                raised("common_elements([1, 2, 3], [2, 3, 4])", "TypeError: 'int' object is not iterable", 5))
    assert "`.extend()`" in made and lines_in(made) == {5}


def test_none_from_an_in_place_method_points_at_where_the_value_came_from():
    program = ("def second_largest(numbers):\n    values = list(set(numbers)).sort()\n    if len(values) < "
               "2:\n        return None\n    return values[-2]\n")
    made = hint("second_largest", program,
                raised("second_largest([1, 2, 3])", "TypeError: object of type 'NoneType' has no len()", 3))
    assert "`values` is None" in made and "line 2" in made and "`.sort()`" in made


def test_a_real_crash_in_the_sandbox_is_named_with_its_line():
    problem = BANK.get("fizzbuzz")
    program = ("def fizzbuzz(n):\n    result = []\n    for i in range(1, n + 1):\n        if i % 15 == 0:\n"
               "            result.append('FizzBuzz')\n        else:\n            result.append('' + i)\n"
               "    return result\n")
    made = offline_hint(problem, "debug", program, run_program(problem, program), problem.solutions[0])
    assert "on line 7" in made.hint and "combined" in made.hint


# --- returns ------------------------------------------------------------------------------------


def test_never_returns_only_when_no_path_returns():
    no_return = "def factorial(n):\n    result = 1\n    for i in range(2, n + 1):\n        result *= i\n"
    assert "never returns" in hint("factorial", no_return, wrong("factorial(0)", "None", "1"))
    in_the_loop = ("def factorial(n):\n    result = 1\n    for i in range(1, n + 1):\n        result *= i\n"
                   "        return result\n")
    made = hint("factorial", in_the_loop, wrong("factorial(0)", "None", "1"))
    assert "never returns" not in made
    assert "reaches its end without returning" in made and "loop on line 3" in made


def test_a_function_that_returns_on_every_path_is_not_told_it_falls_off_the_end():
    program = ("def second_largest(numbers):\n    largest = None\n    second = None\n    for x in numbers:\n"
               "        if largest is None or x > largest:\n            largest = x\n"
               "        elif x != largest and (second is None or x > second):\n            second = x\n"
               "    return second\n")
    made = hint("second_largest", program, wrong("second_largest([1, 2, 3])", "None", "2"))
    assert "never returns" not in made and "without returning" not in made


# --- what is claimed, and how sure ---------------------------------------------------------------


def test_a_program_with_a_loop_is_never_told_a_working_program_has_a_loop_it_lacks():
    # A while loop where the reference has a for loop, and other differences besides.
    program = ("def sum_of_evens(numbers):\n    i = 0\n    s = 0\n    while i < len(numbers):\n"
               "        if numbers[i] % 2 == 1:\n            s = s + numbers[i]\n        i = i + 1\n    "
               "return s\n")
    for reference in BANK.get("sum_of_evens").solutions:
        made = hint("sum_of_evens", program, wrong("sum_of_evens([1, 2, 3, 4, 5, 6])", "9", "12"), reference)
        assert "goes through a loop" not in made


def test_a_far_correct_program_makes_the_hint_say_less():
    # Nothing like the student's program: no departure is trusted enough to name a line.
    program = ("def count_vowels(s):\n    n = 0\n    i = 0\n    while i < len(s):\n        c = s[i]\n"
               "        if c in 'aeiouAEIOU' and c != 'y':\n            n = n + 2\n        i = i + 1\n    "
               "return n\n")
    far = "def count_vowels(s):\n    return sum(1 for ch in s if ch.lower() in 'aeiou')\n"
    made = hint("count_vowels", program, wrong("count_vowels('hello')", "4", "2"), far, known=())
    assert lines_in(made) == set()
    assert "count_vowels('hello') returned 4, expected 2" in made and made.endswith("?")


def test_a_close_correct_program_names_the_line_and_what_differs():
    program = ("def factorial(n):\n    result = 1\n    for i in range(1, n + 1):\n        result += i\n"
               "    return result\n")
    made = hint("factorial", program, wrong("factorial(1)", "2", "1"), BANK.get("factorial").solutions[1])
    assert "operator on line 4" in made and "`+=`" in made


def test_without_any_correct_program_the_hint_still_says_what_the_evidence_says():
    made = hint("average", AVERAGE_TYPO, raised("average([1, 2, 3])", TOTL_UNDEFINED, 7),
                reference=None, known=())
    assert "`totl`" in made and "line 7" in made
    zero = "def average(numbers):\n    return 0\n"
    wrong_answer = hint("average", zero, wrong("average([1, 2, 3])", "0", "2.0"), reference=None, known=())
    assert "average([1, 2, 3]) returned 0, expected 2.0" in wrong_answer and wrong_answer.endswith("?")


# --- evidence without per-test detail --------------------------------------------------------------


def test_a_remote_failed_test_is_the_failing_evidence():
    program = "def foo(a, b):\n    return a - b\n"
    made = hint("sum_two_numbers", program, remote("Test failed: foo(1, 2) should be 3, got -1"))
    assert "foo(1, 2) returned -1, expected 3" in made
    assert "operator on line 2" in made


def test_a_remote_bare_error_name_still_finds_the_undefined_name():
    made = hint("average", AVERAGE_TYPO, remote("NameError"))
    assert "stops with NameError" in made and "`totl`" in made and "line 7" in made


def test_a_remote_report_with_nothing_in_it_still_gets_a_hint():
    made = hint("factorial", "def factorial(n):\n    while True:\n        pass\n", remote(""))
    assert "no details were reported" in made and made.endswith("?")


def test_a_remote_report_is_quoted_bounded():
    text = "Test failed: reverse_words('" + "word " * 200 + "') should be 'x', got 'y'"
    made = hint("sum_two_numbers", "def foo(a, b):\n    return a\n", remote(text))
    assert len(made) < 600 and "more characters" in made


@pytest.mark.parametrize("tests", [[], [Outcome("t", "forbidden", "second_largest([1, 2])", "1",
                                                   error="uses sorted(), which this exercise forbids (line "
                                                         "2)")]])
def test_an_unknown_verdict_is_quoted_with_its_line(tests):
    run = RunResult(False, "forbidden", tests, error="uses sorted(), which this exercise forbids (line 2)")
    program = "def second_largest(numbers):\n    values = sorted(set(numbers))\n    return values[-2]\n"
    made = hint("second_largest", program, run)
    assert "uses sorted(), which this exercise forbids (line 2)" in made
    assert "Look at line 2" in made and made.endswith("?")


# --- long values -------------------------------------------------------------------------------------


def test_a_long_list_keeps_both_ends_around_a_marker_that_says_how_much_is_left_out():
    shown = bounded(repr(list(range(1000))), 80)
    assert shown.startswith("[0, 1, 2") and shown.endswith("998, 999]")
    assert re.search(r"<… \d+ more items …>", shown) and len(shown) <= 90


def test_a_value_the_sandbox_already_cut_ends_at_a_whole_item():
    cut = repr(list(range(1000, 1200)))[:297] + "..."
    shown = bounded(cut, 80)
    assert shown.endswith("<… cut …>")
    assert re.fullmatch(r"\[(\d{4}, )*\d{4},? <… cut …>", shown), shown


def test_a_hint_for_a_huge_wrong_list_is_short_and_cuts_no_number():
    actual, expected = repr(list(range(5000)))[:297] + "...", repr(list(range(1, 5001)))[:297] + "..."
    made = hint("remove_duplicates", "def remove_duplicates(items):\n    return items\n",
                wrong(f"remove_duplicates({expected})", actual, expected))
    assert len(made) < 700
    for number in re.findall(r"\d+", made):
        assert int(number) < 5001


# --- programs no analysis can take -----------------------------------------------------------------

PATHOLOGICAL = {
    "100,000-character expression": "def factorial(n):\n    return " + " + ".join(["n"] * 33_000) + "\n",
    "deeply nested parentheses": "def factorial(n):\n    return " + "(" * 5000 + "n" + ")" * 5000 + "\n",
    "deeply nested blocks": "def factorial(n):\n" + "".join("    " * (i + 1) + "if n:\n" for i in range(90))
                            + "    " * 91 + "return 1\n",
    "deeply nested calls": "def factorial(n):\n    return " + "abs(" * 190 + "n" + ")" * 190 + "\n",
    "20,000 lines": "def factorial(n):\n" + "    x = 1\n" * 20_000 + "    return x\n",
    "a null byte": "def factorial(n):\n    return 1\x00\n",
}
RUNS = {
    "wrong answer": wrong("factorial(0)", "0", "1"),
    "crash": raised("factorial(0)", "RecursionError: maximum recursion depth exceeded", 2),
    "remote": remote("NameError"),
    "no run": None,
}


@pytest.mark.parametrize("program", PATHOLOGICAL.values(), ids=PATHOLOGICAL.keys())
@pytest.mark.parametrize("run", RUNS.values(), ids=RUNS.keys())
@pytest.mark.parametrize("hint_type", ["debug", "plan", "optimize"])
def test_pathological_programs_get_a_hint_and_never_an_exception(program, run, hint_type):
    made = hint("factorial", program, run, hint_type=hint_type)
    assert made.strip().endswith("?")


def test_an_analysis_that_breaks_is_logged_and_the_hint_falls_back_to_the_evidence(monkeypatch, caplog):
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("an analysis bug")

    monkeypatch.setattr(offline, "locate", broken)
    with caplog.at_level(logging.ERROR, logger="hint_core.offline"):
        made = hint("factorial", "def factorial(n):\n    return 0\n", wrong("factorial(0)", "0", "1"))
    assert "factorial(0) returned 0, expected 1" in made and made.endswith("?")
    assert "could not be analysed" in caplog.text


def test_failure_of_reads_a_compile_error_without_tests():
    run = RunResult(False, "compile_error", [], error="SyntaxError: expected ':' (<student>, line 1) (line "
                                                      "1)")
    failure = failure_of(BANK.get("factorial"), run)
    assert failure is not None and failure.error_type == "SyntaxError" and failure.line == 1
