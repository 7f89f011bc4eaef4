"""The LLM-free hint engine on real buggy programs: what students and teachers rely on.

Every buggy program of tests/fixtures/buggy runs once in the sandbox (module scope: the
infinite loops take seconds each); the hints are then built from those runs and the
bank's reference solutions, exactly as the pipeline does without an LLM.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hint_core.offline import offline_hint
from hint_core.pool import work_seconds
from hint_core.problems import ProblemBank
from hint_core.selection import Candidate, code_tokens, select_candidate
from scripts.bench_offline import FIXTURES, claims_in, false_claims, lines_named, load_set
from tests.helpers import SANDBOX

run_program = SANDBOX.run  # the session's one sandbox
MANIFEST = load_set()
BANK = ProblemBank()


@pytest.fixture(scope="module")
def runs():
    """Each fixture's program and its run, keyed by file (one sandbox run per fixture)."""
    return {e.file: (e.program, run_program(BANK.get(e.problem_id), e.program)) for e in MANIFEST}


@pytest.fixture(scope="module")
def reference_runs():
    return {(pid, s): run_program(BANK.get(pid), s) for pid in BANK.ids() for s in BANK.get(pid).solutions}


def nearest(problem_id: str, hint_type: str, program: str, reference_runs) -> Candidate:
    """The correct candidate the pipeline would select among the reference solutions."""
    solutions = BANK.get(problem_id).solutions
    candidates = [Candidate(i, s, work_seconds(reference_runs[problem_id, s]))
                  for i, s in enumerate(solutions)]
    return select_candidate(hint_type, program, candidates)


def hint_for(entry, hint_type, runs, reference_runs):
    program, run = runs[entry.file]
    chosen = nearest(entry.problem_id, hint_type, program, reference_runs)
    return offline_hint(BANK.get(entry.problem_id), hint_type, program, run, chosen.program, chosen.run_time)


def solution_lines(problem_id: str) -> set[str]:
    """Non-trivial lines of the problem's reference solutions, whitespace collapsed."""
    lines = set()
    for solution in BANK.get(problem_id).solutions:
        for line in solution.splitlines():
            if len(code_tokens(line)) >= 5:
                lines.add(" ".join(line.split()))
    return lines


IDS = [entry.file for entry in MANIFEST]


@pytest.mark.parametrize("entry", MANIFEST, ids=IDS)
def test_debug_hint_names_the_failing_test_and_ends_with_a_question(entry, runs, reference_runs):
    made = hint_for(entry, "debug", runs, reference_runs)
    assert entry.failing_call in made.hint
    assert made.hint.rstrip().endswith("?")


CRASHES = [entry for entry in MANIFEST if entry.crashes]


@pytest.mark.parametrize("entry", CRASHES, ids=[e.file for e in CRASHES])
def test_a_program_that_raises_gets_the_line_it_raised_on(entry, runs, reference_runs):
    failure = runs[entry.file][1].first_failure
    made = hint_for(entry, "debug", runs, reference_runs)
    assert failure.line in lines_named(made.hint), made.hint


def test_no_hint_claims_a_missing_loop_or_return_the_program_has(runs, reference_runs):
    """The claims the issue found false on real programs ("a working program goes through a
    loop there" to a program with a loop, "never returns its result" to one with a return,
    a path without a return in a function that always returns), checked on the program."""
    for entry in MANIFEST:
        program, run = runs[entry.file]
        for hint_type in ("debug", "plan"):
            made = hint_for(entry, hint_type, runs, reference_runs)
            claims = claims_in(made.hint) & {"loop_missing", "return_missing", "falls_off_end"}
            assert not false_claims(claims, program, BANK.get(entry.problem_id), run), (entry.file, made.hint)


@pytest.mark.parametrize("hint_type", ["debug", "plan", "optimize"])
def test_no_hint_contains_a_line_of_solution_code(hint_type, runs, reference_runs):
    for entry in MANIFEST:
        made = hint_for(entry, hint_type, runs, reference_runs)
        text = " ".join(f"{made.hint} {made.explanation}".split())
        leaked = [line for line in solution_lines(entry.problem_id) if line in text]
        assert not leaked, (entry.file, hint_type, leaked)


def test_the_fixtures_fail_where_the_manifest_says_and_their_fixes_pass(runs):
    for entry in MANIFEST:
        failure = runs[entry.file][1].first_failure
        assert failure is not None and failure.call == entry.failing_call, entry.file
        assert (failure.status == "exception") == entry.crashes, entry.file
        assert run_program(BANK.get(entry.problem_id), entry.fixed_program).correct, entry.file


# --- plan ------------------------------------------------------------------------------


def plan(problem_id: str, program: str, reference_runs) -> str:
    problem = BANK.get(problem_id)
    chosen = nearest(problem_id, "plan", program, reference_runs)
    return offline_hint(problem, "plan", program, run_program(problem, program), chosen.program).hint


def test_plan_for_an_empty_function_starts_with_going_through_the_input(reference_runs):
    hint = plan("count_vowels", BANK.get("count_vowels").template, reference_runs)
    assert "go through each character of `s`" in hint
    assert hint.endswith("?")


def test_plan_names_the_step_after_the_loop_the_student_already_wrote(reference_runs):
    loop_only = "def sum_of_evens(numbers):\n    for n in numbers:\n        print(n)\n"
    hint = plan("sum_of_evens", loop_only, reference_runs)
    done, next_step = hint.split("A next step")
    assert "already" in done and "go through each item of `numbers`" in done
    assert "go through" not in next_step  # the loop is there: the next step is another one


def test_plan_for_a_recursion_without_the_recursive_step(reference_runs):
    base_only = "def factorial(n):\n    if n == 0:\n        return 1\n"
    hint = plan("factorial", base_only, reference_runs)
    assert "smaller input" in hint


def test_plan_for_a_list_problem_without_its_result_list(reference_runs):
    program = "def fizzbuzz(n):\n    for i in range(1, n + 1):\n        print(i)\n"
    hint = plan("fizzbuzz", program, reference_runs)
    assert "collect the results in a list" in hint


def test_plan_with_every_step_present_points_at_the_bug(reference_runs):
    program = (FIXTURES / "sum_of_evens" / "wrong_condition.py").read_text()
    hint = plan("sum_of_evens", program, reference_runs)
    assert "every step" in hint and "line 4" in hint


def test_plan_for_a_program_python_cannot_read_names_the_line(reference_runs):
    program = (FIXTURES / "is_palindrome" / "syntax_error.py").read_text()
    hint = plan("is_palindrome", program, reference_runs)
    assert "line 3" in hint


# --- optimize --------------------------------------------------------------------------


def optimize(problem_id: str, program: str, reference_runs):
    problem = BANK.get(problem_id)
    run = run_program(problem, program)
    fastest = nearest(problem_id, "optimize", program, reference_runs)
    return run, offline_hint(problem, "optimize", program, run, fastest.program, fastest.run_time)


def solution(problem_id: str, name: str) -> str:
    return (Path(BANK.root) / problem_id / "solutions" / name).read_text()


def test_optimize_names_recursion_without_memoization_and_the_measured_times(reference_runs):
    run, made = optimize("fibonacci", solution("fibonacci", "naive_recursive.py"), reference_runs)
    assert "line 4" in made.hint and "again and again" in made.hint
    assert f"{work_seconds(run) * 1000:.0f} ms" in made.hint  # the student's measured time
    assert "x less" in made.hint  # against the fastest known solution


def test_optimize_names_a_nested_loop_over_the_input(reference_runs):
    nested = (
        "def factorial(n):\n    total = 1\n    for i in range(1, n + 1):\n        product = 1\n"
        "        for j in range(1, i + 1):\n            product *= j\n        total = product\n"
        "    return total\n"
    )
    _, made = optimize("factorial", nested, reference_runs)
    assert "loop on line 5" in made.hint and "loop on line 3" in made.hint


def test_optimize_names_a_search_in_a_list_inside_a_loop(reference_runs):
    _, made = optimize("remove_duplicates", solution("remove_duplicates", "naive_in_list.py"), reference_runs)
    assert "line 4" in made.hint and "`result`" in made.hint and "searches the whole list" in made.hint


def test_optimize_names_counting_again_inside_a_loop(reference_runs):
    _, made = optimize("word_frequencies", solution("word_frequencies", "naive_count.py"), reference_runs)
    assert "line 9" in made.hint and "`words`" in made.hint


def test_optimize_finds_nothing_to_blame_in_a_linear_program(reference_runs):
    _, made = optimize("sum_of_evens", solution("sum_of_evens", "loop.py"), reference_runs)
    assert made.hint.startswith("Your program is correct.")
    assert "line" not in made.hint  # no construct to blame


def test_optimize_asks_for_correctness_first(reference_runs):
    program = (FIXTURES / "factorial" / "wrong_operator.py").read_text()
    _, made = optimize("factorial", program, reference_runs)
    assert made.hint.startswith("Make it correct") and "factorial(1)" in made.hint
