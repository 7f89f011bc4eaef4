"""The solution-leak guard: hints that point the way pass, hints that hand over the fix do not."""

from __future__ import annotations

import pytest

from hint_core.leak_guard import (
    LeakContext,
    code_snippets,
    find_leaks,
    leak_context,
    prose_statements,
    redact_explanation,
    redact_hint,
)
from hint_core.problems import ProblemBank
from hint_core.sandbox import RunResult
from tests.helpers import SANDBOX

run_program = SANDBOX.run  # the session's one sandbox

FACTORIAL = ProblemBank().get("factorial")
OFF_BY_ONE = (
    "def factorial(n):\n    result = 1\n    for i in range(1, n):\n        result *= i\n    return result\n"
)
FIXED = (
    "def factorial(n):\n    result = 1\n    for i in range(1, n + 1):\n        result *= i\n"
    "    return result\n"
)
ZERO_START = (
    "def factorial(n):\n    result = 0\n    for i in range(1, n + 1):\n        result *= i\n"
    "    return result\n"
)
FROM_TWO = (
    "def factorial(n):\n    result = 1\n    for i in range(2, n + 1):\n        result *= i\n"
    "    return result\n"
)
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
        ("Change the loop to range(1, n + 1) and it works.", "quotes code only correct programs have"),
        ("Write for i in range( 1,n+1 ): instead.", "quotes code only correct programs have"),
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
    assert not find_leaks(
        "Is there a way to get the product in one step from the math module?", "", guard, Runs()
    ).fired


def test_literals_only_the_fix_uses_are_caught_unless_the_student_already_sees_them():
    student = "def triple(x):\n    return x * 2\n"
    working = "def triple(x):\n    return x * 3\n"
    hidden = LeakContext(FACTORIAL, student, working, known_text="Return the number tripled.")
    assert (
        "hint gives value(s) only the fix uses: 3"
        in find_leaks("Should it be 3?", "", hidden, Runs()).reasons
    )
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
        "Which values does your loop visit?",
        "Use `range(1, n + 1)` in the loop.",
        ctx(working=WHILE_FIX),
        run_program,
    )
    assert report.hint == ()
    assert report.reasons == (
        "explanation carries code that makes the student's program pass: 'range(1, n + 1)'",
    )


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
    assert (
        redact_explanation(text, ctx())
        == "Off by one: [code removed] should be [code removed].\n[code removed]"
    )


def test_redacting_the_explanation_removes_sentences_that_give_the_fix_in_prose():
    text = "The loop stops one step early. It should run over range(1, n + 1) instead. The rest is right."
    redacted = redact_explanation(text, ctx())
    assert redacted == "The loop stops one step early. [removed: it gave the fix away] The rest is right."
    assert not find_leaks("", redacted, ctx(), Runs()).fired


# --- red team: what the student reads, not the code points -------------------------------------


@pytest.mark.parametrize(
    "disguised",
    [
        "r\u0435sult = 1",  # a Cyrillic e
        "\uff52\uff45\uff53\uff55\uff4c\uff54 \uff1d \uff11",  # full-width letters, sign and digit
        "r e s u l t = 1",  # spaced-out letters
        "res\u200bult = 1",  # a zero-width space
        "r\u00adesult\u2060 = 1",  # a soft hyphen and a word joiner
        "&#114;esult &#61; 1",  # HTML entities a page renders
        "\U0001d42b\U0001d41e\U0001d42c\U0001d42e\U0001d425\U0001d42d = 1",  # mathematical bold letters
    ],
    ids=["cyrillic", "full-width", "spaced-out", "zero-width", "soft-hyphen", "entities", "math-bold"],
)
def test_a_fix_in_disguise_is_read_as_the_student_reads_it(disguised):
    report = find_leaks(
        f"Set {disguised} before the loop.", "", ctx(student=ZERO_START, working=FIXED), Runs()
    )
    assert "hint quotes the line 'result = 1' of the working program" in report.reasons, report.reasons


def test_a_disguised_call_of_the_fix_is_caught():
    hint = "Change the loop to r\u0430nge(\uff11, n + 1) and it works."  # Cyrillic a, full-width 1
    assert find_leaks(hint, "", ctx(), Runs()).hint


RECURSIVE = "def factorial(n):\n    if n == 0:\n        return 1\n    return n * factorial(n - 1)\n"


@pytest.mark.parametrize(
    "hint",
    [
        "You could simply return math.prod(range(1, n + 1)) instead.",
        "What if the function returned n * factorial(n - 1) for every positive n?",
    ],
    ids=["math-prod", "recursive"],
)
def test_another_complete_solution_in_prose_is_caught_against_every_known_program(hint):
    # The selected program is the while loop; the pool and the references know the others.
    guard = leak_context(FACTORIAL, OFF_BY_ONE, WHILE_FIX, None, False, known_programs=(PROD_FIX, RECURSIVE))
    report = find_leaks(hint, "", guard, Runs())
    assert report.hint, report.reasons
    # Without the other programs only running it could tell.
    assert not find_leaks(hint, "", ctx(working=WHILE_FIX), Runs()).fired


def test_a_known_programs_line_is_named_as_such():
    guard = leak_context(FACTORIAL, ZERO_START, WHILE_FIX, None, False, known_programs=(FROM_TWO,))
    report = find_leaks("Have you tried result = 1 first?", "", guard, Runs())
    assert (
        "hint quotes the line 'result = 1' of the working program" in report.reasons
    )  # WHILE_FIX has it too
    guard = leak_context(FACTORIAL, OFF_BY_ONE, WHILE_FIX, None, False, known_programs=(PROD_FIX,))
    assert any("only correct programs have" in r for r in find_leaks(
        "Just return math.prod(range(1, n + 1)).", "", guard, Runs()).reasons)


@pytest.mark.parametrize(
    "hint",
    [
        "You could simply return math.prod(range(1, n + 1)) instead.",
        "Why not return 1 if n == 0 else n * factorial(n - 1)?",
    ],
    ids=["math-prod", "recursive-one-liner"],
)
def test_a_complete_solution_in_prose_that_no_program_knows_is_caught_by_running_it(hint):
    report = find_leaks(hint, "", ctx(working=WHILE_FIX), run_program)
    assert report.hint and "makes the student's program pass" in report.hint[0], report.reasons


def test_the_explanation_gets_the_same_checks_even_when_nothing_is_run():
    # optimize: the student's program passes, so nothing is spliced and run; the explanation
    # holding the whole faster program is still caught (it is stored and sent in the callback).
    guard = ctx(student=FIXED, working=PROD_FIX, correct=True)
    explanation = "Here is the faster program:\n```python\n" + PROD_FIX + "```"
    report = find_leaks("Is there a built-in that multiplies a whole range?", explanation, guard, Runs())
    assert report.hint == () and "contains a code block" in report.explanation
    prose = "The student should write return math.prod(range(1, n + 1)) instead."
    assert find_leaks("Which built-in could help?", prose, guard, Runs()).explanation


def test_prose_statements_are_found_in_sentences_not_in_plain_words():
    assert prose_statements("Try it. You could return math.prod(range(1, n + 1)) here!") == [
        "return math.prod(range(1, n + 1))"
    ]
    assert prose_statements("What does your loop return? Is the result right when n is 0?") == []


# --- pathological texts and programs ----------------------------------------------------------


CHAIN = "def factorial(n):\n    return " + "+".join(["n"] * 33_000) + "\n"


@pytest.mark.parametrize(
    "student, working, hint",
    [
        (CHAIN, FIXED, "Look at your return line: does it multiply?"),
        (
            OFF_BY_ONE,
            "def factorial(n):\n    return n" + ".real" * 20_000 + "\n",
            "Which values does your loop visit?",
        ),
        (OFF_BY_ONE, FIXED, "Try `" + "-" * 50_000 + "n`."),
        (OFF_BY_ONE, FIXED, "Try `" + "(" * 300 + "n" + ")" * 300 + "`."),
        (OFF_BY_ONE, "x = " + "9" * 5_000 + "\n", "Is the value big enough?"),
    ],
    ids=["long-student-chain", "long-attribute-chain", "deep-unary-span", "deep-parentheses", "huge-literal"],
)
def test_pathological_programs_and_texts_never_raise(student, working, hint):
    report = find_leaks(hint, hint, ctx(student=student, working=working), Runs())
    assert isinstance(report.reasons, tuple)
    redact_hint(hint, ctx(student=student, working=working))
