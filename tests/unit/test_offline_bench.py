"""The offline benchmark's own checks: a figure is only as good as the checker behind it."""

from __future__ import annotations

import pytest

from hint_core.problems import ProblemBank
from hint_core.sandbox import RunResult
from hint_core.sandbox import TestResult as Outcome  # not a test class
from scripts.bench_offline import (
    BuggyProgram,
    claims_in,
    evaluate,
    false_claims,
    lines_named,
    load_set,
    remote_run,
)
from tests.helpers import SANDBOX

run_program = SANDBOX.run  # the session's one sandbox

BANK = ProblemBank()
WITH_LOOP_AND_RETURN = ("def count_vowels(s):\n    count = 0\n    for ch in s:\n        count += 1\n"
                        "    return count\n")
WRONG = RunResult(False, "wrong_answer",
                  [Outcome("t", "wrong_answer", "count_vowels('hello')", "2", actual="5")])


def test_the_false_claims_the_issue_found_are_caught_on_the_program():
    said = ("Something seems to be missing after line 2: a working program goes through a loop there. "
            "Your function never returns its result, so the caller gets None.")
    claims = claims_in(said)
    assert {"loop_missing", "return_missing"} <= claims
    found = false_claims(claims, WITH_LOOP_AND_RETURN, BANK.get("count_vowels"), WRONG)
    assert any("missing loop" in f for f in found) and any("never returns" in f for f in found)


def test_true_claims_are_not_flagged():
    no_loop = "def count_vowels(s):\n    print(s)\n"
    claims = claims_in("Something seems to be missing after line 1: a working program goes through a loop "
                       "there.")
    assert false_claims(claims, no_loop, BANK.get("count_vowels"), WRONG) == []


def test_a_hint_that_only_names_a_line_claims_nothing():
    said = "Look closely at line 4. What does it do for this input, and what should it do?"
    assert claims_in(said) == set()


def test_lines_are_read_from_the_words_of_a_hint():
    assert lines_named("Look closely at lines 2 and 5. The loop on line 3, and line 4.") == {2, 3, 4, 5}


def test_the_fix_replaces_deletes_and_inserts_lines():
    entry = BuggyProgram("factorial/x.py", "a\nb\nc\nd\n", "dev", "", "", False, {1: "A", 2: None, 4: "d\ne"})
    assert entry.fixed_program == "A\nc\nd\ne\n"
    assert entry.bug_lines == {1, 2, 4}


def test_the_remote_form_of_a_run_keeps_only_the_handlers_last_line():
    run = RunResult(False, "exception",
                    [Outcome("t", "exception", "f(1)", "1", error="NameError: x (line 3)", line=3)])
    converted = remote_run(run)
    assert converted.tests == [] and converted.error == "NameError: x" and not converted.correct


def test_a_hint_pointing_away_from_the_bug_counts_as_misleading():
    program = ("def factorial(n):\n    result = 1\n    for i in range(1, n + 1):\n        result += i\n"
               "    return result\n")
    problem = BANK.get("factorial")
    run = run_program(problem, program)
    right = BuggyProgram("factorial/x.py", program, "dev", "", "factorial(1)", False, {4: "        result *= "
                                                                                          "i"},
                         may_claim=frozenset({"operator"}))
    elsewhere = BuggyProgram("factorial/x.py", program, "dev", "", "factorial(1)", False, {2: "    result = "
                                                                                              "1"},
                             may_claim=frozenset({"operator"}))
    solution = problem.solutions[1]
    assert evaluate(right, problem, run, run, solution, None, problem.solutions).misleading == []
    assert evaluate(elsewhere, problem, run, run, solution, None, problem.solutions).misleading


def test_every_labelled_claim_is_one_the_benchmark_recognises(tmp_path):
    (tmp_path / "manifest.yaml").write_text(
        "- {file: factorial/x.py, split: dev, bug: b, failing_call: 'factorial(0)', crashes: false,"
        " fix: {1: x}, may_claim: [vague]}\n")
    (tmp_path / "factorial").mkdir()
    (tmp_path / "factorial" / "x.py").write_text("x = 1\n")
    with pytest.raises(ValueError, match="unknown claims"):
        load_set(tmp_path)


def test_the_set_has_a_held_out_part_with_crashes_and_several_line_bugs():
    entries = load_set()
    held_out = [e for e in entries if e.split == "heldout"]
    assert len(entries) > 100 and len(held_out) >= 50
    assert any(e.crashes for e in held_out) and any(len(e.bug_lines) > 1 for e in held_out)
    assert len({e.problem_id for e in held_out}) >= 5
