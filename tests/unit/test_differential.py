"""The inputs the differential check tries beyond a problem's tests (hint_core/differential.py)."""

from __future__ import annotations

import dataclasses

from hint_core import differential
from hint_core.problems import Compare, ProblemBank
from hint_core.problems import TestCase as Case

BANK = ProblemBank()
FACTORIAL = BANK.get("factorial")
WEAK = dataclasses.replace(FACTORIAL, tests=tuple(t for t in FACTORIAL.tests if t.args[0] >= 1))


def inputs(problem):
    return [(t.args, t.kwargs) for t in differential.generated_tests(problem)]


def test_the_edge_values_the_tests_leave_out_come_first_and_the_tests_own_inputs_never():
    generated = inputs(WEAK)
    assert generated[0] == ((0,), {})
    own = {(t.args, ()) for t in WEAK.tests}
    assert not own & {(args, ()) for args, _ in generated}
    assert all(n >= 0 for (n,), _ in generated)  # the tests say nothing of negative numbers


def test_the_same_inputs_every_time_and_within_the_bound():
    problem = BANK.get("common_elements")
    assert inputs(problem) == inputs(problem)
    assert len(inputs(problem)) == differential.MAX_INPUTS
    negative = dataclasses.replace(WEAK, tests=(Case("neg", args=(-3,), expected=0),))
    assert ((-1,), {}) in inputs(negative)


def test_inputs_keep_the_shapes_of_the_arguments():
    problem = dataclasses.replace(WEAK, tests=(
        Case("t", args=((1, "a"), {2, 3}), kwargs={"d": {"k": [1.5]}}, expected=0),))
    generated = differential.generated_tests(problem)
    assert len(generated) > 10
    for test in generated:
        pair, numbers = test.args
        assert type(pair) is tuple and type(numbers) is set and set(test.kwargs) == {"d"}
        assert type(test.kwargs["d"]) is dict


def test_only_function_problems_with_local_tests_and_a_reference_are_checked():
    assert differential.applies(FACTORIAL)
    assert not differential.applies(dataclasses.replace(FACTORIAL, solutions=()))
    assert not differential.applies(dataclasses.replace(FACTORIAL, tests=()))  # judged by orchestration
    assert not differential.applies(BANK.get("greeting"))  # stdin/stdout


def test_references_that_disagree_leave_the_input_out(executor):
    # Three references of factorial: for -1 one raises (recursion), two return 1.
    problem = dataclasses.replace(FACTORIAL, tests=(Case("neg", args=(-2,), expected=1),), compare=Compare())
    expected = differential.reference_tests(problem, executor.run)
    assert expected and all(t.args[0] >= 0 for t in expected)
