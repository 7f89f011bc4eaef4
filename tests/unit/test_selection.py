"""Choosing the candidate a hint is built on."""

from __future__ import annotations

from hint_core.selection import Candidate, code_tokens, normalized_tokens, select_candidate, token_distance

STUDENT = "def total(xs):\n    s = 0\n    for x in xs:\n        s = s - x\n    return s\n"
NEAR = "def total(xs):\n    s = 0\n    for x in xs:\n        s = s + x\n    return s\n"
FAR = "def total(xs):\n    return sum(xs)\n"


def test_comments_and_layout_do_not_count():
    assert code_tokens("x = 1  # one\n\n\ny = 2\n") == code_tokens("x=1\ny=2\n")


def test_renamed_variables_normalize_to_the_same_tokens():
    assert normalized_tokens(NEAR) == normalized_tokens(NEAR.replace("s", "acc").replace("xs", "items"))
    assert normalized_tokens(NEAR) != normalized_tokens(STUDENT)


def test_unparsable_program_still_has_a_distance():
    assert token_distance("def f(:\n  return (", NEAR) > 0


def test_plan_and_debug_pick_the_closest_correct_program():
    candidates = [Candidate(1, FAR, 0.001), Candidate(2, NEAR, 0.5)]
    assert select_candidate("debug", STUDENT, candidates).key == 2
    assert select_candidate("plan", STUDENT, candidates).key == 2


def test_optimize_picks_the_fastest():
    candidates = [Candidate(1, FAR, 0.001), Candidate(2, NEAR, 0.5)]
    assert select_candidate("optimize", STUDENT, candidates).key == 1


def test_no_candidate():
    assert select_candidate("debug", STUDENT, []) is None
