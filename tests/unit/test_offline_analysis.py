"""The program analyses behind the offline hints, on small programs (nothing is run)."""

from __future__ import annotations

import ast

import pytest

from hint_core import program_checks as checks
from hint_core.problems import ProblemBank
from hint_core.program_cost import costly_constructs
from hint_core.program_diff import compare_programs, departures, equivalent_on_integers, parse
from hint_core.program_plan import plan_steps

LOOP = "def total(xs):\n    s = 0\n    for x in xs:\n        s += x\n    return s\n"


def diff(student: str, reference: str):
    return departures(parse(student), parse(reference))


def test_names_layout_and_spelling_of_an_update_are_no_departure():
    renamed = ("def total(values):\n    acc = 0\n    for v in values:\n        acc = acc + v  # add\n\n"
               "    return acc\n")
    assert diff(renamed, LOOP) == []


@pytest.mark.parametrize("a, b", [("n <= 1", "n < 2"), ("i % 2 == 0", "not i % 2"),
                                  ("2 * n + 2", "(n + 1) * 2")])
def test_integer_expressions_that_always_agree_are_equivalent(a, b):
    assert equivalent_on_integers(ast.parse(a, mode="eval").body, ast.parse(b, mode="eval").body, lambda x: x)


@pytest.mark.parametrize("a, b", [("n <= 1", "n < 1"), ("i % 2 == 0", "i % 2 == 1"),
                                  ("range(1, n)", "range(1, n + 1)")])
def test_integer_expressions_that_differ_are_not(a, b):
    left, right = ast.parse(a, mode="eval").body, ast.parse(b, mode="eval").body
    assert not equivalent_on_integers(left, right, lambda x: x)


def test_a_changed_operator_is_found_on_its_line():
    found = diff(LOOP.replace("s += x", "s -= x"), LOOP)
    assert [(d.kind, d.line, d.construct, d.aspect) for d in found] == [("changed", 4, "update", "operator")]


def test_changed_loop_bounds_are_found_on_the_loop():
    student = "def f(xs):\n    s = 0\n    for i in range(1, len(xs)):\n        s += xs[i]\n    return s\n"
    reference = "def f(xs):\n    s = 0\n    for i in range(len(xs)):\n        s += xs[i]\n    return s\n"
    assert [(d.line, d.construct, d.aspect) for d in diff(student, reference)] == [(3, "loop", "bounds")]


def test_a_statement_in_the_wrong_block_is_one_moved_departure():
    student = ("def total(xs):\n    s = 0\n    n = 0\n    for x in xs:\n        s += x\n    n += 1\n"
               "    return s / n\n")
    reference = ("def total(xs):\n    s = 0\n    n = 0\n    for x in xs:\n        s += x\n        n += 1\n"
                 "    return s / n\n")
    assert [(d.kind, d.line) for d in diff(student, reference)] == [("moved", 6)]


def test_branches_in_another_order_are_an_order_departure():
    reference = (BANK.root / "fizzbuzz" / "solutions" / "if_chain.py").read_text()
    lines = reference.splitlines()
    # The FizzBuzz branch (lines 4-5) checked last instead of first.
    student = "\n".join(lines[:3] + ["        if i % 3 == 0:", lines[6], "        elif i % 5 == 0:", lines[8],
                                     "        elif i % 15 == 0:", lines[4]] + lines[9:]) + "\n"
    found = diff(student, reference)
    assert [(d.kind, d.line) for d in found] == [("order", 8)]


def test_a_missing_return_is_a_missing_departure_after_the_last_line():
    student = "def total(xs):\n    s = 0\n    for x in xs:\n        s += x\n"
    assert [(d.kind, d.line, d.construct) for d in diff(student, LOOP)] == [("missing", 4, "return")]


BANK = ProblemBank()


def test_a_while_loop_whose_counter_changes_after_it_is_stuck_there():
    program = "def f(n):\n    i = 0\n    while i < n:\n        print(i)\n    i += 1\n    return i\n"
    [suspect] = checks.stuck_loops(ast.parse(program))
    assert (suspect.line, suspect.also, suspect.name) == (5, 3, "i")


def test_a_while_true_loop_is_stuck_at_its_exit_condition():
    program = "while True:\n    line = input()\n    if line is None:\n        break\n"
    [suspect] = checks.stuck_loops(ast.parse(program))
    assert (suspect.line, suspect.construct, suspect.also) == (3, "exit condition", 1)


def test_a_loop_whose_counter_always_advances_is_not_suspected():
    program = "def f(n):\n    i = 0\n    while i < n:\n        i += 1\n    return i\n"
    assert checks.stuck_loops(ast.parse(program)) == []


def test_a_recursive_call_with_the_same_input_is_blamed_before_the_base_case():
    function = ast.parse("def f(n):\n    if n == 0:\n        return 1\n    return n * f(n)\n").body[0]
    assert checks.runaway_recursion(function).line == 4
    fixed = ast.parse("def f(n):\n    if n == 1:\n        return 1\n    return n * f(n - 1)\n").body[0]
    assert checks.runaway_recursion(fixed).line == 2


@pytest.mark.parametrize(
    "expression, expected",
    [("[]", list), ("str(x)", str), ("a + b", None), ("len(x) / 2", float), ("x == y", bool),
     ("sorted(x)", list)],
)
def test_static_types_of_returned_expressions(expression, expected):
    function = ast.parse(f"def f(x, y, a, b):\n    return {expression}\n").body[0]
    assert checks.static_type(checks.returns(function)[0].value, function) is expected


def test_static_type_of_a_variable_follows_its_assignment():
    function = ast.parse("def f(s):\n    found = []\n    for c in s:\n        found.append(c)\n    return "
                         "found\n").body[0]
    assert checks.static_type(checks.returns(function)[0].value, function) is list


def test_the_bank_solutions_that_are_slow_by_design_are_recognised():
    slow = {("fibonacci", "naive_recursive.py"): "recursion",
            ("remove_duplicates", "naive_in_list.py"): "list search",
            ("word_frequencies", "naive_count.py"): "repeated count",
            ("common_elements", "nested_loops.py"): "list search"}
    for problem_id in BANK.ids():
        problem = BANK.get(problem_id)
        for path in sorted((BANK.root / problem_id / "solutions").glob("*.py")):
            kinds = [c.kind for c in costly_constructs(problem, path.read_text())]
            expected = slow.get((problem_id, path.name))
            assert (kinds[0] if kinds else None) == expected, (problem_id, path.name, kinds)


def test_memoized_recursion_is_not_costly():
    program = (BANK.root / "fibonacci" / "solutions" / "memoized.py").read_text()
    assert costly_constructs(BANK.get("fibonacci"), program) == []


def test_plan_steps_follow_the_order_of_the_program():
    program = (BANK.root / "count_vowels" / "solutions" / "loop.py").read_text()
    kinds = [s.kind for s in plan_steps(BANK.get("count_vowels"), program)]
    assert kinds == ["accumulate", "loop", "filter", "return"]
    recursive = (BANK.root / "factorial" / "solutions" / "recursive.py").read_text()
    kinds = [s.kind for s in plan_steps(BANK.get("factorial"), recursive)]
    assert kinds == ["base case", "recurse", "return"]


# --- facts the offline hints rest on -----------------------------------------------------------


def function_of(program: str) -> ast.FunctionDef:
    return ast.parse(program).body[0]


@pytest.mark.parametrize("program, ends", [
    ("def f(x):\n    if x:\n        return 1\n    else:\n        return 2\n", True),
    ("def f(x):\n    if x:\n        return 1\n", False),
    ("def f(x):\n    for y in x:\n        return y\n", False),
    ("def f(x):\n    while True:\n        if x:\n            return 1\n", True),
    ("def f(x):\n    while True:\n        if x:\n            break\n", False),
    ("def f(x):\n    try:\n        return int(x)\n    except ValueError:\n        return 0\n", True),
])
def test_always_ends_follows_every_path(program, ends):
    assert checks.always_ends(function_of(program).body) is ends


def test_value_returns_leave_out_bare_returns_and_return_none():
    function = function_of("def f(x):\n    if x:\n        return\n    if x == 1:\n        return None\n    "
                           "return x\n")
    assert [r.lineno for r in checks.value_returns(function)] == [6]


@pytest.mark.parametrize("loop, skewed", [
    ("for i in range(len(xs) - 1):\n        s += xs[i]", True),
    ("for i in range(1, len(xs)):\n        s += xs[i]", True),
    ("for i in range(len(xs)):\n        s += xs[i]", False),
    ("for i in range(len(xs) - 1):\n        s += xs[i] + xs[i + 1]", False),  # neighbours: intended
])
def test_a_range_that_misses_positions_of_the_list_it_indexes_is_found(loop, skewed):
    function = function_of(f"def f(xs):\n    s = 0\n    {loop}\n    return s\n")
    assert bool(checks.skewed_ranges(function)) is skewed


def test_a_while_loop_whose_variable_moves_away_from_its_end_is_found():
    [loop] = [n for n in ast.walk(ast.parse("n = 3\nwhile n > 0:\n    n += 1\n")) if isinstance(n, ast.While)]
    suspect = checks.moves_away(loop)
    assert suspect is not None and (suspect.line, suspect.also, suspect.name) == (3, 2, "n")
    [fine] = [n for n in ast.walk(ast.parse("n = 3\nwhile n > 0:\n    n -= 1\n")) if isinstance(n, ast.While)]
    assert checks.moves_away(fine) is None


def test_undefined_names_are_the_ones_nothing_gives_a_value():
    tree = ast.parse("import math\ndef f(xs):\n    total = 0\n    for x in xs:\n        total += x\n"
                     "    return totl + math.pi + len(xs)\n")
    assert [n.id for n in checks.undefined_names(tree, {"len"})] == ["totl"]


def test_a_tuple_assignment_of_independent_values_lines_up_with_two_assignments():
    two_lines = ("def f(n):\n    a = 0\n    b = 1\n    for _ in range(n):\n        a, b = b, a + b\n"
                 "    return a\n")
    one_line = "def f(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n"
    assert diff(two_lines, one_line) == []


def test_parameters_pair_by_position_whatever_their_names():
    student = "def total(values):\n    s = 0\n    for v in values:\n        s += v\n    return s\n"
    assert diff(student, LOOP) == []


def test_loops_with_the_same_header_align_even_when_their_bodies_differ():
    student = ("def total(xs):\n    s = 0\n    for x in xs:\n        print(x)\n        if x > 0:\n"
               "            s -= x\n    return s\n")
    kinds = {(d.kind, d.construct) for d in diff(student, LOOP)}
    assert ("extra", "loop") not in kinds and ("missing", "loop") not in kinds


def test_an_index_loop_and_an_item_loop_do_not_share_their_variable():
    student = ("def f(xs):\n    s = 0\n    for i in range(len(xs)):\n        if i % 2 == 0:\n"
               "            s += xs[i]\n    return s\n")
    reference = ("def f(xs):\n    s = 0\n    for x in xs:\n        if x % 2 == 0:\n            s += x\n"
                 "    return s\n")
    assert 4 in {d.line for d in diff(student, reference)}  # `i % 2` is not `x % 2`


def test_compare_programs_tells_which_lines_the_reference_has_exactly():
    student = LOOP.replace("s += x", "s -= x")
    _, same = compare_programs(parse(student), parse(LOOP))
    assert same == {1, 2, 3, 5}
