"""The LLM-free hint engine: hints from the test run and the nearest correct program.

Used when no LLM is configured (the embedded default) and as the fallback when the LLM
keeps failing. One style per hint type, each grounded in evidence:

- debug: the first failing test in plain words, and the region of the student's program
  to look at (`fault_location`): a line and the construct there;
- plan: the next step the student has not written yet, read from the structure of the
  nearest correct program (`program_plan`);
- optimize: the measured time against the fastest known correct program, and the
  construct that costs it (`program_cost`).

Hints never contain solution code: they name a line of the student's own program, a
construct, a variable or operator the student wrote, a test, a measured time. Every hint
ends with a question.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence
from dataclasses import dataclass

from hint_core.fault_location import Region, locate
from hint_core.pool import work_seconds
from hint_core.problems import Problem
from hint_core.program_cost import Cost, costly_constructs
from hint_core.program_diff import Departure
from hint_core.program_plan import Step, missing_steps, plan_steps
from hint_core.sandbox import RunResult, TestResult


@dataclass(frozen=True)
class OfflineHint:
    explanation: str
    hint: str


# --- the failing test in plain words ---------------------------------------------------

_LINE_SUFFIX = re.compile(r"\s*\(line \d+\)$")
_TYPE_WORDS = {
    "int": "a whole number", "float": "a decimal number", "str": "a string", "bool": "True or False",
    "list": "a list", "dict": "a dictionary", "set": "a set", "tuple": "a tuple", "NoneType": "None",
}
_PLURAL_WORDS = {
    "int": "whole numbers", "float": "decimal numbers", "str": "strings", "bool": "True/False values",
    "list": "lists", "dict": "dictionaries", "set": "sets", "tuple": "tuples", "NoneType": "None",
}


def _value_kind(text: str | None) -> str | None:
    ok, value = _literal(text)
    return type(value).__name__ if ok and text is not None else None


def _error_words(error: str | None) -> str:
    text = _LINE_SUFFIX.sub("", error or "an error")
    return text if len(text) <= 120 else text[:117] + "..."


def _literal(text: str | None) -> tuple[bool, object]:
    try:
        return True, ast.literal_eval(text) if text is not None else None
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return False, None


def _difference(actual: str | None, expected: str | None) -> str:
    """What to add to a wrong answer: for long lists the first item that differs, and a
    word on item types when they differ (a list of numbers where strings are expected)."""
    ok_a, a = _literal(actual)
    ok_e, e = _literal(expected)
    if not (ok_a and ok_e and isinstance(a, list) and isinstance(e, list)):
        return ""
    note = ""
    kinds_a, kinds_e = {type(x).__name__ for x in a}, {type(y).__name__ for y in e}
    if len(kinds_a) == 1 and len(kinds_e) == 1 and kinds_a != kinds_e:
        note = (f" Its items are {_PLURAL_WORDS.get(kinds_a.pop(), 'values')} where "
                f"{_PLURAL_WORDS.get(kinds_e.pop(), 'other values')} are expected.")
    if len(actual or "") + len(expected or "") > 100:
        both = list(zip(a, e, strict=False))
        at = next((i for i, (x, y) in enumerate(both) if x != y or type(x) is not type(y)), None)
        if at is not None:
            note = f" The lists first differ at position {at + 1}: {both[at][0]!r} where {both[at][1]!r} is expected." + note
        elif len(a) != len(e):
            note = f" The list has {len(a)} items where {len(e)} are expected." + note
    return note


def failure_sentence(problem: Problem, failure: TestResult) -> str:
    """The first failing test in plain words, e.g. "For factorial(0) your function returns
    0, but 1 is expected." The test's call is quoted as the tests name it."""
    subject = "your program" if problem.kind == "stdio" else "your function"
    if failure.status == "wrong_answer":
        return f"{subject[0].upper()}{subject[1:]} fails this test: {failure.describe()}.{_difference(failure.actual, failure.expected)}"
    if failure.status == "exception":
        return f"For {failure.call} {subject} stops with {_error_words(failure.error)}."
    if failure.status in ("timeout", "crashed") and "memory" not in (failure.error or ""):
        return f"For {failure.call} {subject} never finishes: it is stopped when its time runs out."
    if failure.status == "memory_limit":
        return f"For {failure.call} {subject} uses more memory than allowed."
    if failure.status == "output_limit":
        return f"For {failure.call} {subject} prints far more than expected."
    return f"For {failure.call} {subject} does not give the expected {failure.expected}."


def _evidence(problem: Problem, run: RunResult | None) -> str:
    failure = run.first_failure if run else None
    if failure is not None:
        return failure_sentence(problem, failure)
    if run is not None and run.error:
        return f"Your program stops with {_error_words(run.error)}."
    return "Your program does not pass all the tests yet."


# --- the region in words -------------------------------------------------------------------

_OPERATORS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%",
              ast.BitOr: "|", ast.BitAnd: "&", ast.BitXor: "^",
              ast.Pow: "**", ast.And: "and", ast.Or: "or", ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<",
              ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.In: "in", ast.NotIn: "not in", ast.Is: "is",
              ast.IsNot: "is not", ast.UAdd: "+", ast.USub: "-", ast.Not: "not"}
_CONSTRUCT_WORDS = {
    "loop": "the loop", "loop condition": "the loop condition", "loop variable": "the loop variable",
    "condition": "the condition", "base case": "the base case", "special case": "the special case",
    "return": "the return statement", "update": "the update", "starting value": "the starting value",
    "assignment": "the assignment", "print": "the print", "call": "the call", "function header": "the function header",
    "import": "the import", "statement": "the statement", "dropped value": "the statement",
}


def _operator(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.AugAssign):
        symbol = _OPERATORS.get(type(node.op))
        return symbol + "=" if symbol else None
    if isinstance(node, ast.BinOp | ast.BoolOp | ast.UnaryOp):
        return _OPERATORS.get(type(node.op))
    if isinstance(node, ast.Compare):
        return _OPERATORS.get(type(node.ops[0]))
    if isinstance(node, ast.Assign) and isinstance(node.value, ast.UnaryOp):
        return "=" + (_OPERATORS.get(type(node.value.op)) or "")
    return None


def _target_name(node: ast.AST | None) -> str | None:
    target = None
    if isinstance(node, ast.AugAssign | ast.AnnAssign):
        target = node.target
    elif isinstance(node, ast.Assign) and len(node.targets) == 1:
        target = node.targets[0]
    return target.id if isinstance(target, ast.Name) else None


def _missing_words(d: Departure) -> str:
    name = f"`{d.name}`" if d.name else None
    return {
        "condition": "checks a condition", "loop": "goes through a loop", "return": "returns its result",
        "update": f"updates {name}" if name else "updates a value",
        "call": f"changes {name}" if name else "takes one more step",
        "starting value": f"gives {name} a starting value" if name else "sets a starting value",
        "assignment": f"sets {name}" if name else "works out a value",
        "print": "prints something",
    }.get(d.construct, "has one more step")


def _departure_sentence(region: Region) -> str:
    d = region.departure
    assert d is not None
    line, also = region.line, region.also
    what = _CONSTRUCT_WORDS.get(d.construct, "the code")
    if d.kind == "order":
        return (f"Look at the order of your checks: the case on line {line} is only tried after the ones above it. "
                "Can it still be reached for the values it is meant for?")
    if d.kind == "extra":
        return f"Line {line} does something a working solution does without. What does it do for this input?"
    if d.kind == "missing":
        where = f"after line {line}" if line else "at the start"
        reference = d.reference
        if isinstance(reference, ast.If) and any(isinstance(s, ast.Return) for s in reference.body):
            return (f"A working program handles a special case {where} that yours does not. "
                    "Which input needs an answer of its own?")
        return f"Something seems to be missing {where}: a working program {_missing_words(d)} there. What is still left to do?"
    if d.kind == "moved":
        return (f"Look at where line {line} sits: a working program does this step in another place. "
                "Does it run as often as it should, and at the right moment?")
    if d.aspect == "bounds":
        uses = f", and at how line {also} uses each of them" if also else ""
        return f"Look at the range of values the loop on line {line} goes through{uses}. Is that every value it needs, and no more?"
    if d.aspect == "iterable":
        uses = f" and at how line {also} treats each of them" if also else ""
        return f"Look at what the loop on line {line} goes through{uses}. What does it see for the items of this test?"
    if d.aspect == "operator" and isinstance(d.student_part, ast.BoolOp):
        return f"Check the condition on line {line}: for which values should it be true, and is that what it tests?"
    if d.aspect == "operator":
        symbol = _operator(d.student_part)
        shown = f" (`{symbol}`)" if symbol else ""
        return f"Look at the operator on line {line}{shown}. Which operation does this step need?"
    if d.aspect == "comparison":
        symbol = _operator(d.student_part)
        shown = f" (`{symbol}`)" if symbol else ""
        if symbol in ("<", "<=", ">", ">="):
            return f"Look at the comparison on line {line}{shown}. Should the boundary value itself count, or not?"
        return f"Look at the test on line {line}{shown}. Does it check what you mean, or the opposite?"
    if d.aspect == "update":
        name = _target_name(d.student)
        return f"Look at how {f'`{name}`' if name else 'the value'} is updated on line {line}. Does it change the way you intend each time?"
    if d.aspect == "not returned":
        return f"Line {line} works out a value, but what happens to it afterwards?"
    if d.construct == "base case":
        return f"Check the base case on line {line}: what should the function give for the smallest input?"
    if d.construct == "special case":
        return f"Check the special case on line {line}: when should it apply, and what should it give?"
    if d.construct == "condition":
        return f"Check the condition on line {line}: for which values should it be true, and is that what it tests?"
    if d.construct == "return":
        return f"Look at what line {line} returns. Is it exactly what the problem asks for?"
    if d.construct == "starting value":
        name = _target_name(d.student)
        return f"Check the starting value{f' of `{name}`' if name else ''} on line {line}. What should it be, given what the loop then does with it?"
    if d.aspect == "value":
        return f"Check the value used on line {line}. Is it the right one for this step?"
    return f"Look closely at {what} on line {line}. What does it do for this input, and what should it do?"


def region_sentence(region: Region, actual_kind: str | None = None, expected_kind: str | None = None) -> str:
    """Where to look, in words, ending with a question."""
    line, also, name = region.line, region.also, region.name
    var = f"`{name}`" if name else "the variable it tests"
    if region.evidence == "syntax":
        return f"Python cannot read line {line} ({region.message}). What does Python expect there?"
    if region.evidence == "loop":
        if region.construct == "update" and also and region.reason.endswith("after the loop"):
            return (f"The loop on line {also} repeats while its condition holds, but {var} only changes on line {line}, "
                    "after the loop. Does anything inside the loop bring it closer to its end?")
        if region.construct == "update":
            return (f"{var[0].upper() + var[1:]} changes on line {line} only when the condition on line {also} holds. "
                    "What happens to the loop when it does not?")
        if region.construct == "exit condition":
            return (f"The loop on line {also} stops only when the condition on line {line} is true. "
                    "Can that ever happen for this input?")
        return f"Nothing inside the loop on line {line} changes what its condition tests. How should it end?"
    if region.evidence == "recursion":
        if region.reason.startswith("the function calls itself and has no"):
            return "Your function calls itself again and again. Where should it stop, and what should it give there?"
        return (f"Each call goes on calling itself without ever reaching the base case on line {line}. "
                "Which is the smallest input, and does the base case catch it?")
    if region.evidence == "type":
        got = _TYPE_WORDS.get(actual_kind or "", "a value")
        want = _TYPE_WORDS.get(expected_kind or "", "another kind of value")
        origin = f", and at where that value starts out on line {also}" if also else ""
        return (f"Your function gives back {got} where {want} is expected. Look at what line {line} returns{origin}. "
                "What kind of value should come out?")
    if region.evidence == "path":
        if region.construct == "loop":
            return (f"Follow this input through the loop on line {line}: which values does it go through, "
                    "and are those all the ones it needs to check?")
        return f"Follow this input through the condition on line {line}: should it be true here, and which branch runs?"
    if region.evidence == "no return":
        if region.construct == "print":
            return f"Line {line} prints the result, but the tests look at what your function returns. What does it give back?"
        if region.line is not None:
            return f"Line {line} works out a value, but nothing is done with it. Where should that value go?"
        if also:
            return (f"When the condition on line {also} is false, your function reaches its end without returning "
                    "anything, so it gives None. What should it return then?")
        return "Your function never returns its result, so the caller gets None. What should its last step be?"
    if region.evidence == "departure":
        return _departure_sentence(region)
    return f"The problem shows on line {line}. Which value there is not what you expect?"


# --- debug -------------------------------------------------------------------------------


def debug_hint(
    problem: Problem, student_program: str, run: RunResult | None, reference: str | None,
    known_correct: Sequence[str] = (),
) -> OfflineHint:
    region = locate(problem, student_program, run, reference, known_correct)
    failure = run.first_failure if run else None
    if region is not None and region.evidence == "syntax":
        blocked = f"No test can run yet, starting with {failure.call}. " if failure else ""
        hint = f"Python cannot read line {region.line} ({region.message}). {blocked}What does Python expect there?"
        explanation = f"Syntax error on line {region.line}: {region.message}."
        return OfflineHint(explanation, hint)
    evidence = _evidence(problem, run)
    if region is None:
        hint = f"{evidence} Trace your program by hand on that input: at which step does it stop doing what you expect?"
        return OfflineHint(f"{_describe(failure, run)} No region could be singled out.", hint)
    kinds = (_value_kind(failure.actual), _value_kind(failure.expected)) if failure else (None, None)
    hint = f"{evidence} {region_sentence(region, *kinds)}"
    return OfflineHint(_explain(failure, run, region), hint)


def _describe(failure: TestResult | None, run: RunResult | None) -> str:
    if failure is not None:
        return f"First failing test: {failure.describe()}."
    return f"Program error: {run.error}." if run is not None and run.error else "The tests do not pass."


def _explain(failure: TestResult | None, run: RunResult | None, region: Region) -> str:
    where = f"line {region.line}" if region.line else "no single line"
    detail = f"{_describe(failure, run)} Region: {where} ({region.construct}), from {region.evidence}: {region.reason}"
    d = region.departure
    if d is not None and d.aspect in ("operator", "comparison"):
        mine, theirs = _operator(d.student_part), _operator(d.reference_part)
        if mine and theirs:
            detail += f"; the student uses `{mine}` where the nearest correct program uses `{theirs}`"
    return detail + "."


# --- plan --------------------------------------------------------------------------------

_QUESTIONS = {
    "loop": "What do you need to look at each time round?",
    "accumulate": "What should it start at, and how does it change at each step?",
    "filter": "Which items should count, and how can you tell?",
    "cases": "In which order should you check the cases?",
    "return": "What should your function give back at the end?",
    "print": "What exactly should the program print?",
    "special case": "What should happen for that input?",
    "base case": "What is the answer for the smallest input?",
    "recurse": "How does the answer for n relate to the answer for a smaller input?",
    "read": "Where does the input come from?",
    "transform": "What should the data look like before you use it?",
    "compare": "What exactly should be compared with what?",
    "divide": "What do you divide, and by what?",
}


def _next_step_words(todo: list[Step]) -> tuple[str, str]:
    step = todo[0]
    words = step.words
    if step.kind == "accumulate" and len(todo) > 1 and todo[1].kind == "loop":
        # "keep a count" reads best together with the loop that updates it
        words = f"{todo[1].words}, and {step.words} as you go"
        step = todo[1]
    elif step.kind == "loop" and len(todo) > 1 and todo[1].kind == "accumulate":
        words = f"{step.words}, and {todo[1].words} as you go"
    if step.kind == "accumulate" and step.words in ("add the values up", "multiply the values together"):
        return words, "Which values need to be combined, and how?"
    return words, _QUESTIONS.get(step.kind, "What is the next small step?")


def plan_hint(
    problem: Problem, student_program: str, run: RunResult | None, reference: str | None,
    known_correct: Sequence[str] = (),
) -> OfflineHint:
    failure = run.first_failure if run else None
    if reference is None:
        hint = ("Break the problem into small steps and check each one on the smallest example. "
                "What should your program give for the simplest input?")
        return OfflineHint(f"No correct program to compare with. {_describe(failure, run)}", hint)
    region = locate(problem, student_program, run, None)
    if region is not None and region.evidence == "syntax":
        # Nothing else can be read from a program Python cannot parse: that comes first.
        hint = f"{region_sentence(region)} Once Python can read your program, we can look at the next step."
        return OfflineHint(f"Syntax error on line {region.line}: {region.message}.", hint)
    done, todo = missing_steps(problem, student_program, reference)
    plan = "; ".join(f"[{'x' if s in done else ' '}] {s.words}" for s in plan_steps(problem, reference))
    if not todo:
        # Every step is there: what is left is a bug, so point at it like a debug hint.
        made = debug_hint(problem, student_program, run, reference, known_correct)
        hint = f"Your program already has every step of a working plan. {made.hint}"
        return OfflineHint(f"Plan of the nearest correct program: {plan}. {made.explanation}", hint)
    words, question = _next_step_words(todo)
    progress = ""
    if done:
        progress = "Your program already does this: " + "; ".join(s.words for s in done[:2]) + ". "
    hint = f"{progress}A next step: {words}. {question}"
    explanation = f"Plan of the nearest correct program: {plan}. {_describe(failure, run)}"
    return OfflineHint(explanation, hint)


# --- optimize ----------------------------------------------------------------------------


NOTICEABLE_SECONDS = 0.01  # smaller differences in run time are not worth a hint


def _ms(seconds: float) -> str:
    ms = seconds * 1000
    return f"{ms:.1f} ms" if ms < 10 else f"{ms:.0f} ms"


def _cost_sentence(cost: Cost) -> str:
    if cost.kind == "recursion":
        return (f"On line {cost.line} each call of `{cost.name}` starts two or more new calls, so the same values "
                "are worked out again and again. What could your function remember between calls?")
    if cost.kind == "nested loop":
        return (f"The loop on line {cost.line} runs again, from the start, for every pass of the loop on line "
                f"{cost.also}, so the work grows with the square of the input. Could one pass do it, reusing what "
                "the previous pass found?")
    if cost.kind == "list search":
        return (f"On line {cost.line} the membership test searches the whole list `{cost.name}` on every pass of "
                f"the loop on line {cost.also}. Which structure answers \"have I seen this?\" without searching?")
    if cost.kind == "repeated count":
        return (f"On line {cost.line} counting in `{cost.name}` walks through all of it again on every pass of the "
                f"loop on line {cost.also}. Could you count everything in one pass instead?")
    return (f"Line {cost.line} recomputes something about all of `{cost.name}` on every pass of the loop on line "
            f"{cost.also}. Could you work it out once, before the loop?")


def optimize_hint(
    problem: Problem, student_program: str, run: RunResult | None, reference: str | None,
    reference_run_time: float | None, known_correct: Sequence[str] = (),
) -> OfflineHint:
    if run is not None and not run.correct:
        made = debug_hint(problem, student_program, run, reference, known_correct)
        return OfflineHint(made.explanation, f"Make it correct before making it fast. {made.hint}")
    mine = work_seconds(run) if run else None
    costs = costly_constructs(problem, student_program)
    timing = ""
    # A few milliseconds either way is the noise of a busy machine, not the program.
    slower = bool(mine and reference_run_time and mine >= 1.5 * reference_run_time
                  and mine - reference_run_time >= NOTICEABLE_SECONDS)
    if mine and reference_run_time:
        if slower:
            timing = (f"On the tests your program takes {_ms(mine)}; the fastest known correct program takes "
                      f"{_ms(reference_run_time)}, {mine / reference_run_time:.0f}x less. ")
        elif costs:
            timing = (f"On these small tests it takes {_ms(mine)}, close to the fastest known correct program "
                      f"({_ms(reference_run_time)}), but the difference grows with the input. ")
        else:
            timing = (f"On the tests your program takes {_ms(mine)}, about as fast as the fastest known correct "
                      f"program ({_ms(reference_run_time)}). ")
    if costs:
        hint = f"Your program is correct. {timing}{_cost_sentence(costs[0])}"
    elif slower:
        hint = f"Your program is correct. {timing}Which part of it does more work than the problem needs?"
    else:
        hint = f"Your program is correct. {timing}Is there a part you could make shorter or clearer?"
    found = ", ".join(f"{c.kind} (line {c.line})" for c in costs) or "none found"
    explanation = f"Student run time {mine}, fastest known correct program {reference_run_time}. Costly constructs: {found}."
    return OfflineHint(explanation, hint)


def offline_hint(
    problem: Problem,
    hint_type: str,
    student_program: str,
    run: RunResult | None,
    reference: str | None,
    reference_run_time: float | None = None,
    known_correct: Sequence[str] | None = None,
) -> OfflineHint:
    """One hint for the given type, from the evidence alone.

    `reference` is the selected correct program (nearest, or fastest for optimize);
    `known_correct` are other correct programs (the bank's solutions by default) whose
    code tells a harmless difference from a suspicious one.
    """
    known = problem.solutions if known_correct is None else tuple(known_correct)
    if hint_type == "optimize":
        return optimize_hint(problem, student_program, run, reference, reference_run_time, known)
    if hint_type == "plan":
        return plan_hint(problem, student_program, run, reference, known)
    return debug_hint(problem, student_program, run, reference, known)
