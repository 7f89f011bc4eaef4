"""The LLM-free hint engine: hints derived from the tests and the nearest correct program.

Used when no LLM is configured (the embedded default) and as the fallback when the LLM
keeps failing. Its hints never contain solution code: they name the evidence (a failing
test, a line, a measured time) and ask a question.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from hint_core.problems import Problem
from hint_core.sandbox import RunResult
from hint_core.selection import code_tokens


@dataclass(frozen=True)
class OfflineHint:
    explanation: str
    hint: str


def _first_differing_line(student: str, reference: str) -> int | None:
    """1-based line of the student's program where it first departs from the reference."""
    a = [line.strip() for line in student.splitlines()]
    b = [line.strip() for line in reference.splitlines()]
    for tag, i1, _i2, _j1, _j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag != "equal":
            return min(i1 + 1, max(len(a), 1))
    return None


def _describe_line(student: str, line_no: int) -> str:
    lines = student.splitlines()
    if not 1 <= line_no <= len(lines):
        return f"line {line_no}"
    text = lines[line_no - 1].strip()
    for construct, words in (
        ("the loop", ("for ", "while ")),
        ("the condition", ("if ", "elif ", "else")),
        ("the return statement", ("return",)),
        ("the function header", ("def ",)),
    ):
        if text.startswith(words):
            return f"{construct} on line {line_no}"
    return f"line {line_no}"


def debug_hint(problem: Problem, student_program: str, run: RunResult | None, reference: str | None) -> OfflineHint:
    failure = run.first_failure_text() if run else None
    where = _first_differing_line(student_program, reference) if reference else None
    evidence = f"Your program fails this test: {failure}." if failure else "Your program does not pass all tests yet."
    if where is not None:
        place = _describe_line(student_program, where)
        hint = f"{evidence} Look closely at {place}. What value does it produce for that input, and what should it be?"
        explanation = f"First failing test: {failure}. The student's program departs from the nearest correct program at line {where}."
    else:
        hint = f"{evidence} Trace your program by hand on that input: at which step does it stop doing what you expect?"
        explanation = f"First failing test: {failure}."
    return OfflineHint(explanation, hint)


def plan_hint(problem: Problem, student_program: str, run: RunResult | None, reference: str | None) -> OfflineHint:
    steps = []
    tokens = set(code_tokens(reference or ""))
    mine = set(code_tokens(student_program))
    for token, step in (
        ("for", "go through the input one element at a time"),
        ("while", "repeat a step until a condition changes"),
        ("if", "decide what to do in each case"),
        ("return", "return the result at the end"),
    ):
        if token in tokens and token not in mine:
            steps.append(step)
    failure = run.first_failure_text() if run else None
    if steps:
        hint = f"A way to start: {steps[0]}. Which part of the problem needs that?"
    else:
        hint = "Break the problem into small steps and check each one on the smallest example. What should your function return for the simplest input?"
    explanation = f"Missing steps compared with a correct program: {', '.join(steps) or 'none detected'}. First failing test: {failure}."
    return OfflineHint(explanation, hint)


def optimize_hint(student_run_time: float | None, best_run_time: float | None) -> OfflineHint:
    if student_run_time and best_run_time and best_run_time < student_run_time:
        ratio = student_run_time / best_run_time
        hint = (
            f"Your program is correct. On the tests it takes {student_run_time * 1000:.0f} ms, while the fastest "
            f"known solution takes {best_run_time * 1000:.0f} ms ({ratio:.1f}x faster). Is any work repeated that you could do once?"
        )
    else:
        hint = "Your program is correct and about as fast as the known solutions. Could it be shorter or clearer?"
    explanation = f"Student run time {student_run_time}, fastest known {best_run_time}."
    return OfflineHint(explanation, hint)


def offline_hint(
    problem: Problem,
    hint_type: str,
    student_program: str,
    run: RunResult | None,
    reference: str | None,
    reference_run_time: float | None = None,
) -> OfflineHint:
    """One hint for the given type, from the evidence alone."""
    if hint_type == "optimize":
        return optimize_hint(run.run_time if run else None, reference_run_time)
    if hint_type == "plan":
        return plan_hint(problem, student_program, run, reference)
    return debug_hint(problem, student_program, run, reference)
