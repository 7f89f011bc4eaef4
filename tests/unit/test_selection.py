"""Choosing the candidate a hint is built on."""

from __future__ import annotations

from hint_core.reuse import reuse_key
from hint_core.selection import (
    Candidate,
    code_tokens,
    normalized_tokens,
    select_candidate,
    token_distance,
    token_distances,
)

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


CHAINS = [
    "def total(xs):\n    return " + "+".join(["xs"] * 33_000) + "\n",
    "def total(xs):\n    return xs" + ".real" * 20_000 + "\n",
    "def total(xs):\n    return " + "-" * 100_000 + "xs\n",
    "def total(xs):\n    return " + "(" * 300 + "xs" + ")" * 300 + "\n",
    "x = " + "9" * 100_000 + "\n",
]


def test_pathological_programs_have_distances_and_never_raise():
    for chain in CHAINS:
        distances = token_distances(chain, [NEAR, FAR, chain])
        assert distances[2] == 0 and min(distances[:2]) > 0
        assert normalized_tokens(chain)
        chosen = select_candidate("debug", chain, [Candidate(1, NEAR, 0.1), Candidate(2, chain, 0.2)])
        assert chosen.key == 2  # the identical program is the nearest
        assert reuse_key("p", "debug", chain) == reuse_key("p", "debug", chain + "\n# a comment\n")
