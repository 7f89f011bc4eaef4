"""The solution-leak guard: hints that point the way pass, hints that hand over the fix do not."""

from __future__ import annotations

import pytest

from hint_core.leak_guard import (
    LeakContext,
    code_snippets,
    find_leaks,
    leak_context,
    redact_explanation,
    redact_hint,
)
from hint_core.problems import ProblemBank
from hint_core.sandbox import RunResult, run_program

FACTORIAL = ProblemBank().get("factorial")
OFF_BY_ONE = "def factorial(n):\n    result = 1\n    for i in range(1, n):\n        result *= i\n    return result\n"
FIXED = "def factorial(n):\n    result = 1\n    for i in range(1, n + 1):\n        result *= i\n    return result\n"
ZERO_START = "def factorial(n):\n    result = 0\n    for i in range(1, n + 1):\n        result *= i\n    return result\n"
FROM_TWO = "def factorial(n):\n    result = 1\n    for i in range(2, n + 1):\n        result *= i\n    return result\n"
WHILE_FIX = (
    "def factorial(n):\n    result = 1\n    i = 1\n    while i <= n:\n        result *= i\n        i += 1\n"
    "    return result\n"
)
PROD_FIX = "import math\n\ndef factorial(n):\n    return math.prod(range(1, n + 1))\n"


class Runs:
    """A runner that counts calls and never passes (for the static checks)."""

    def __init__(self, passes: bool = False):
        self.programs: list[str] = []
        self.passes = passes

    def __call__(self, problem, program) -> RunResult:
        self.programs.append(program)
        return RunResult(correct=self.passes, status="passed" if self.passes else "wrong_answer")


def ctx(student=OFF_BY_ONE, working=FIXED, evidence=None, correct=False) -> LeakContext:
    return leak_context(FACTORIAL, student, working, evidence, student_correct=correct)


@pytest.mark.parametrize(
    "hint",
    [
        "Which values does your loop visit when n is 3? Does it ever multiply by n itself?",
        "Look at the stop value of your `range`: is the last number included?",
        "What does `result *= i` do on the last step you expect?",  # the student's own line
        "Could a product of all the numbers up to n be built another way?",  # English, not code
    ],
)
def test_socratic_hints_pass(hint):
    runs = Runs()
    assert find_leaks(hint, "The loop stops one step early.", ctx(), runs).reasons == ()


@pytest.mark.parametrize(
    "hint, reason",
    [
        ("Try this:\n```python\nfor i in range(1, n + 1):\n```\nDoes it work now?", "contains a code block"),
        ("Change the loop to range(1, n + 1) and it works.", "quotes code only the working program has"),
        ("Write for i in range( 1,n+1 ): instead.", "quotes code only the working program has"),
    ],
)
def test_code_of_the_fix_is_caught_however_it_is_spaced(hint, reason):
    report = find_leaks(hint, "", ctx(), Runs())
    assert report.fired and any(reason in r for r in report.reasons), report.reasons


def test_a_short_fixed_line_is_caught():
    report = find_leaks("Set result = 1 before the loop.", "", ctx(student=ZERO_START, working=FIXED), Runs())
    assert "hint quotes the line 'result = 1' of the working program" in report.reasons


def test_identifiers_only_the_fix_uses_are_caught_when_used_as_code():
    guard = ctx(working=PROD_FIX)
    assert find_leaks("Could math.prod help here?", "", guard, Runs()).fired
    assert find_leaks("Have you met `prod` in the math module?", "", guard, Runs()).fired
    # The same word as plain English is not code.
    assert not find_leaks("Is there a way to get the product in one step from the math module?", "", guard, Runs()).fired


def test_literals_only_the_fix_uses_are_caught_unless_the_student_already_sees_them():
    student = "def triple(x):\n    return x * 2\n"
    working = "def triple(x):\n    return x * 3\n"
    hidden = LeakContext(FACTORIAL, student, working, known_text="Return the number tripled.")
    assert "hint gives value(s) only the fix uses: 3" in find_leaks("Should it be 3?", "", hidden, Runs()).reasons
    shown = LeakContext(FACTORIAL, student, working, known_text="triple(2) returned 4, expected 6; 3 times x")
    assert not find_leaks("The problem says 3 times x. What does yours multiply by?", "", shown, Runs()).fired


def test_the_failing_test_the_student_sees_is_not_a_leak():
    student = "def factorial(n):\n    if n == 1:\n        return 1\n    return n * factorial(n - 1)\n"
    working = "def factorial(n):\n    if n == 0:\n        return 1\n    return n * factorial(n - 1)\n"
    evidence = "factorial(0) raised RecursionError: maximum recursion depth exceeded, expected 1"
    hint = "Your program fails this test: factorial(0) raised RecursionError. Which call is the last one?"
    assert not find_leaks(hint, "", ctx(student, working, evidence), Runs()).fired


def test_code_that_makes_the_student_program_pass_is_caught_by_running_it():
    # `result = 0 + 1` quotes nothing of the working program, yet spliced in it fixes the bug.
    hint = "What if you wrote `result = 0 + 1`?"
    report = find_leaks(hint, "", ctx(student=ZERO_START, working=FROM_TWO), run_program)
    assert report.reasons == ("hint carries code that makes the student's program pass: 'result = 0 + 1'",)


def test_an_expression_is_spliced_into_the_call_it_replaces():
    report = find_leaks("Is `range(1, n + 1)` what you meant?", "", ctx(working=WHILE_FIX), run_program)
    assert report.fired and "makes the student's program pass" in report.reasons[0]


def test_code_in_the_explanation_that_fixes_the_program_is_caught():
    report = find_leaks(
        "Which values does your loop visit?", "Fix:\n```\n    for i in range(1, n + 1):\n```", ctx(working=WHILE_FIX),
        run_program,
    )
    assert report.reasons and report.reasons[0].startswith("explanation carries code")


def test_code_that_does_not_fix_the_program_is_fine():
    runs = Runs()
    assert not find_leaks("Does `range(0, n)` start where you want?", "", ctx(working=WHILE_FIX), runs).fired
    assert len(runs.programs) == 1  # tried once, failed the tests


def test_nothing_is_run_for_a_student_program_that_already_passes():
    def never(problem, program):
        raise AssertionError("an optimize hint must not be judged by running the student's correct program")

    guard = ctx(student=FIXED, working=PROD_FIX, correct=True)
    assert not find_leaks("Is there a built-in that multiplies a whole range?", "`x = 1`", guard, never).fired


def test_splicing_is_bounded():
    runs = Runs()
    hint = " ".join(f"`result = {k}`" for k in range(10, 20))  # none quotes the fix
    find_leaks(hint, "", ctx(student=ZERO_START, working=WHILE_FIX), runs)
    assert len(runs.programs) == 4


def test_code_snippets_are_fences_and_code_spans_not_names():
    text = "See `result` and `n`; try `result += i` or:\n```\nx = 1\n```"
    assert code_snippets(text) == ["x = 1\n", "result += i"]


def test_redaction_keeps_the_question_and_drops_the_code():
    hint = (
        "Your loop stops one step early. Change it to `for i in range(1, n + 1):` to fix it. "
        "```python\nreturn result\n``` Which values does your loop visit when n is 3?"
    )
    redacted = redact_hint(hint, ctx())
    assert redacted == "Your loop stops one step early. Which values does your loop visit when n is 3?"
    assert not find_leaks(redacted, "", ctx(), Runs()).fired


def test_redacting_the_explanation_keeps_its_words():
    text = "Off by one: `range(1, n)` should be `range(1, n + 1)`.\n```python\nfor i in range(1, n + 1):\n```"
    assert redact_explanation(text) == "Off by one: [code removed] should be [code removed].\n[code removed]"
