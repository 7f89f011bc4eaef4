"""Realistic stored requests in every state, written through the models.

Shared by the console's tests, its browser tests and the screenshot script. Run results
are built with the sandbox's own result types, so they have the stored shape.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from hint_core.sandbox.results import RunResult, TestResult
from models import (
    EnhancedProgram,
    Hint,
    HintGenerationPhase,
    ProgramEnhancementPhase,
    Reflection,
    Request,
    SolutionPoolEntry,
)

BUGGY_FACTORIAL = """def factorial(n):
    # multiply every number up to n  (Jane Doe, student 4711)
    result = 0
    for i in range(1, n + 1):
        result *= i
    return result
"""
FIXED_FACTORIAL = """def factorial(n):
    # multiply every number up to n  (Jane Doe, student 4711)
    result = 1
    for i in range(1, n + 1):
        result *= i
    return result
"""
REFERENCE_FACTORIAL = """def factorial(n):
    if n == 0:
        return 1
    return n * factorial(n - 1)
"""
WRONG_FACTORIAL = """def factorial(n):
    result = 0
    for i in range(n):
        result += i
    return result
"""
FIBONACCI = """def fibonacci(n):
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return b
"""
FIBONACCI_FIXED = FIBONACCI.replace("return b", "return a")
PALINDROME = """def is_palindrome(text):
    return text == text.reverse()
"""
SUM_EVENS = """def sum_of_evens(numbers):
    total = 0
    for n in numbers:
        if n % 2 == 0:
            total = total + n
    return total
"""
SUM_EVENS_FAST = "def sum_of_evens(numbers):\n    return sum(n for n in numbers if n % 2 == 0)\n"
HOSTILE_MARKUP = "</pre></table><script>document.title='pwned'</script><img src=x onerror=alert(1)>"


def run(
    tests: list[tuple[str, str, str, str, str | None, int | None]],
    error: str | None = None,
    status: str | None = None,
    output: str = "",
) -> dict[str, Any]:
    """A stored student run: tests are (name, status, call, expected, actual, line)."""
    results = [
        TestResult(
            name,
            st,
            call,
            expected,
            actual=actual,
            error="ZeroDivisionError: division by zero (line 3)" if st == "exception" else None,
            line=line,
        )
        for name, st, call, expected, actual, line in tests
    ]
    failed = next((t for t in results if not t.passed), None)
    result = RunResult(
        correct=error is None and failed is None,
        status=status
        or ("passed" if failed is None and error is None else failed.status if failed else "compile_error"),
        tests=results,
        output=output,
        error=error,
        run_time=0.041,
        cpu_time=0.012,
    )
    return result.to_dict()


FACTORIAL_FAILS = run(
    [
        ("zero", "wrong_answer", "factorial(0)", "1", "0", None),
        ("five", "wrong_answer", "factorial(5)", "120", "0", 5),
    ]
)
FACTORIAL_PASSES = run(
    [
        ("zero", "passed", "factorial(0)", "1", "1", None),
        ("five", "passed", "factorial(5)", "120", "120", None),
    ]
)


def chat_response(content: str, model: str, prompt_tokens: int, completion_tokens: int) -> dict[str, Any]:
    """A raw OpenAI chat completion, as the LLM client stores it."""
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": model,
        "choices": [
            {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


@dataclass
class Sample:
    """The request ids of the sample, by what they show."""

    ids: dict[str, int] = field(default_factory=dict)
    first_day: dt.date | None = None


def _at(base: dt.datetime, seconds: float) -> dt.datetime:
    return base + dt.timedelta(seconds=seconds)


def _request(
    request_id: int,
    problem: str,
    hint_type: str,
    program: str,
    at: dt.datetime,
    student_run: dict[str, Any] | None,
    stage: str,
) -> Request:
    return Request.create(
        request_id=request_id,
        problem_id=problem,
        hint_type=hint_type,
        student_program=program,
        student_notebook=None,
        payload_hash="0" * 64,
        enqueued_at=_at(at, 0.01),
        created_at=at,
        updated_at=at,
        deadline_at=_at(at, 600),
        reflection_deadline_at=_at(at, 60),
        student_run=student_run,
        student_correct=None if student_run is None else student_run["correct"],
        student_run_at=None if student_run is None else _at(at, 0.4),
        stage=stage,
        hint_claimed_at=_at(at, 6.3) if stage != "pending" else None,
    )


def _candidate(
    request: Request,
    phase: ProgramEnhancementPhase,
    index: int,
    source: str,
    program: str | None,
    correct: bool | None,
    at: dt.datetime,
    distance: int | None = None,
    run_time: float | None = None,
    invalid: str | None = None,
    run_result: dict[str, Any] | None = None,
) -> EnhancedProgram:
    return EnhancedProgram.create(
        phase=phase,
        request=request,
        index=index,
        source=source,
        program=program,
        invalid_reason=invalid,
        evaluated_at=None if correct is None else at,
        correct=correct,
        run_result=run_result if run_result is not None else (FACTORIAL_PASSES if correct else None),
        run_time=run_time,
        edit_distance=distance,
        created_at=at,
    )


def _program_phase(
    request: Request,
    at: dt.datetime,
    engine: str = "openai",
    model: str | None = "gpt-4.1-mini",
    prompt_tokens: int = 812,
    completion_tokens: int = 655,
    answer: str = FIXED_FACTORIAL,
    student_program: str = BUGGY_FACTORIAL,
) -> ProgramEnhancementPhase:
    llm = engine == "openai"
    return ProgramEnhancementPhase.create(
        request=request,
        attempt=1,
        engine=engine,
        model=model if llm else None,
        temperature=0.7 if llm else None,
        n=3 if llm else None,
        prompt=[
            {"role": "system", "content": "You repair Python programs. Answer with JSON."},
            {
                "role": "user",
                "content": "Problem: factorial\n"
                f"<untrusted_program>\n{student_program}\n</untrusted_program>",
            },
        ]
        if llm
        else None,
        response=[
            chat_response(
                '{"fixed_program": ' + repr(answer) + "}", model or "", prompt_tokens, completion_tokens
            )
        ]
        if llm
        else None,
        prompt_tokens=prompt_tokens if llm else 0,
        completion_tokens=completion_tokens if llm else 0,
        llm_calls=1 if llm else 0,
        waiting_seconds=4.8 if llm else 0.0,
        created_at=_at(at, 5.3),
        completed_at=_at(at, 5.3),
    )


def _answer(
    request: Request,
    at: dt.datetime,
    seconds: float,
    selected: EnhancedProgram | None,
    hint: str,
    explanation: str,
    engine: str = "openai",
    error: str | None = None,
    notes: dict[str, Any] | None = None,
    llm_calls: int = 1,
    prompt_tokens: int = 1250,
    completion_tokens: int = 140,
    **hint_fields: Any,
) -> None:
    """The hint phase and the Hint it stored, `seconds` after the request arrived."""
    tried_llm = llm_calls > 0
    written = _at(at, seconds - 0.1)
    prompt = [
        {"role": "system", "content": "You are a Socratic tutor. Never give the solution."},
        {"role": "user", "content": "The student's program fails factorial(0)."},
    ]
    answer = f'{{"explanation": "{explanation}", "hint": "{hint}"}}'
    HintGenerationPhase.create(
        request=request,
        attempt=1,
        engine=engine,
        model="gpt-4.1" if tried_llm else None,
        temperature=0.2 if tried_llm else None,
        selected_program=selected,
        prompt=prompt if tried_llm else None,
        response=[chat_response(answer, "gpt-4.1", prompt_tokens, completion_tokens)]
        if tried_llm and engine == "openai"
        else None,
        explanation=explanation,
        hint=hint,
        prompt_tokens=prompt_tokens if tried_llm else 0,
        completion_tokens=completion_tokens if tried_llm else 0,
        llm_calls=llm_calls,
        waiting_seconds=2.1 if tried_llm else 0.0,
        notes=notes,
        error=error,
        created_at=written,
        completed_at=written,
    )
    Hint.create(
        request=request,
        hint=hint,
        explanation=explanation,
        engine=engine,
        job_finished_successfully=True,
        created_at=_at(at, seconds),
        **hint_fields,
    )


def populate(now: dt.datetime | None = None) -> Sample:
    """One request in each state the console must show, spread over the last few days."""
    now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    sample = Sample()

    # 1. Finished with an LLM hint: reflection, candidates of every verdict, the leak guard
    # fired once and the hint was regenerated, reported on the second callback attempt.
    at = now - dt.timedelta(days=3, hours=2)
    r = _request(1001, "factorial", "debug", BUGGY_FACTORIAL, at, FACTORIAL_FAILS, "finished")
    Reflection.create(
        request=r,
        reflection_question="What do you think goes wrong?",
        reflection_answer="I think the loop is wrong, factorial(0) should be 1.",
        payload_hash="0" * 64,
        created_at=_at(at, 20),
    )
    phase = _program_phase(r, at)
    fixed = _candidate(r, phase, 0, "llm", FIXED_FACTORIAL, True, _at(at, 5.9), distance=1, run_time=0.0021)
    _candidate(
        r,
        phase,
        1,
        "llm",
        WRONG_FACTORIAL,
        False,
        _at(at, 5.9),
        distance=7,
        run_time=0.0019,
        run_result=run([("zero", "wrong_answer", "factorial(0)", "1", "0", None)]),
    )
    _candidate(r, phase, 2, "llm", None, False, _at(at, 5.3), invalid="the answer held no JSON object")
    _candidate(
        r, phase, 3, "reference", REFERENCE_FACTORIAL, True, _at(at, 5.9), distance=19, run_time=0.0030
    )
    _answer(
        r,
        at,
        9.0,
        fixed,
        hint="What value does result hold before the loop multiplies anything into it?",
        explanation="result starts at 0, so every product stays 0; it must start at 1.",
        notes={
            "leak_guard": {
                "fired": True,
                "reasons": ["the hint quotes a changed line: result = 1"],
                "action": "regenerated",
            }
        },
        llm_calls=2,
        prompt_tokens=2480,
        completion_tokens=260,
        reported_at=_at(at, 14.0),
        report_attempts=2,
    )
    sample.ids["llm"] = 1001

    # 2. The LLM's hint failed: the offline engine stood in (a fallback).
    at = now - dt.timedelta(days=2, hours=5)
    fib_run = run([("ten", "wrong_answer", "fibonacci(10)", "55", "89", None)])
    r = _request(1002, "fibonacci", "plan", FIBONACCI, at, fib_run, "finished")
    phase = _program_phase(r, at, answer=FIBONACCI_FIXED, student_program=FIBONACCI)
    fixed = _candidate(r, phase, 0, "llm", FIBONACCI_FIXED, True, _at(at, 5.9), distance=1, run_time=0.002)
    _answer(
        r,
        at,
        40.0,
        fixed,
        hint="Trace the loop for n = 1: which of a and b holds the answer?",
        explanation="The loop is right; it returns the next number instead of the current one.",
        engine="offline",
        error="LLM hint failed, offline hint used: LLMError: timed out after 30 s",
        llm_calls=2,
        prompt_tokens=900,
        completion_tokens=0,
    )
    sample.ids["fallback"] = 1002

    # 3. Failed: the hint step gave up.
    at = now - dt.timedelta(days=1, hours=7)
    pal_run = run([("racecar", "exception", "is_palindrome('racecar')", "True", None, 2)], status="exception")
    r = _request(1003, "is_palindrome", "debug", PALINDROME, at, pal_run, "finished")
    _program_phase(r, at, prompt_tokens=700, completion_tokens=0, answer="", student_program=PALINDROME)
    Hint.create(
        request=r,
        job_finished_successfully=False,
        generation_error_message="generate_hint failed: LLMError: the endpoint answered HTTP 500",
        created_at=_at(at, 95.0),
        report_attempts=1,
    )
    sample.ids["failed"] = 1003

    # 4. Pending: the student's run is stored, the candidates are not verified yet.
    at = now - dt.timedelta(minutes=3)
    evens_run = run([("mixed", "passed", "sum_of_evens([1, 2, 3, 4])", "6", "6", None)])
    r = _request(1004, "sum_of_evens", "optimize", SUM_EVENS, at, evens_run, "pending")
    phase = _program_phase(r, at, answer=SUM_EVENS_FAST, student_program=SUM_EVENS)
    _candidate(r, phase, 0, "llm", SUM_EVENS_FAST, None, _at(at, 5.3))
    sample.ids["pending"] = 1004

    # 5. Already correct: the tests themselves answer, no LLM involved.
    at = now - dt.timedelta(days=1, hours=2)
    r = _request(1005, "factorial", "plan", FIXED_FACTORIAL, at, FACTORIAL_PASSES, "finished")
    Hint.create(
        request=r,
        hint="Your code seems already correct.",
        explanation="The program passes every test.",
        engine="tests",
        job_finished_successfully=True,
        created_at=_at(at, 0.5),
    )
    sample.ids["correct"] = 1005

    # 6. Optimize with the offline engine (no LLM configured) and pool candidates.
    at = now - dt.timedelta(hours=20)
    r = _request(1006, "sum_of_evens", "optimize", SUM_EVENS, at, evens_run, "finished")
    phase = _program_phase(r, at, engine="offline")
    fast = _candidate(
        r,
        phase,
        0,
        "pool",
        SUM_EVENS_FAST,
        True,
        _at(at, 1.2),
        distance=18,
        run_time=0.0008,
        run_result=evens_run,
    )
    _candidate(
        r,
        phase,
        1,
        "reference",
        SUM_EVENS,
        True,
        _at(at, 1.2),
        distance=0,
        run_time=0.0015,
        run_result=evens_run,
    )
    _answer(
        r,
        at,
        1.6,
        fast,
        hint="Could one expression over the list replace the loop and the running total?",
        explanation="A generator inside sum() does the same work without the Python-level loop.",
        engine="offline",
        llm_calls=0,
    )
    sample.ids["offline"] = 1006

    # 7. Hostile text everywhere: markup in the program, the LLM's answer and the hint, and a
    # 100,000-character program on a few very long lines and many short ones.
    at = now - dt.timedelta(hours=6)
    long_program = (
        f"def factorial(n):\n    s = '{HOSTILE_MARKUP}'\n"
        + "    x = 0\n" * 9000
        + "    y = '"
        + "A" * 10_000
        + "'\n    return 0\n"
    )
    hostile_run = run(
        [("zero", "exception", "factorial(0)", "1", None, 3)], status="exception", output=HOSTILE_MARKUP
    )
    r = _request(1007, "factorial", "debug", long_program, at, hostile_run, "finished")
    phase = _program_phase(r, at, answer=HOSTILE_MARKUP, student_program=long_program)
    hostile = _candidate(
        r,
        phase,
        0,
        "llm",
        FIXED_FACTORIAL + f"# {HOSTILE_MARKUP}\n",
        True,
        _at(at, 5.9),
        distance=3,
        run_time=0.002,
    )
    _answer(
        r, at, 12.0, hostile, hint=f"Look here: {HOSTILE_MARKUP}", explanation=f"Because {HOSTILE_MARKUP}"
    )
    sample.ids["hostile"] = 1007

    for problem, source, program in (
        ("factorial", "reference", REFERENCE_FACTORIAL),
        ("factorial", "llm", FIXED_FACTORIAL),
        ("sum_of_evens", "pool", SUM_EVENS_FAST),
    ):
        SolutionPoolEntry.create(
            problem_id=problem,
            tests_version="v1",
            normalized_hash=f"{problem}-{source}",
            program=program,
            tokens=[],
            run_time=0.001,
            source=source,
            created_at=now,
        )
    sample.first_day = (now - dt.timedelta(days=3, hours=2)).date()
    return sample
