"""Writing the hint with the LLM: the leak guard sees every known-correct program, reads
look-alike text as the student does, and keeps the explanation free of the fix."""

from __future__ import annotations

import json

from hint_core.ai_config import PhaseConfig
from hint_core.llm import LLMReply, Usage
from hint_core.llm_hint import write_llm_hint
from hint_core.problems import ProblemBank
from hint_core.prompts import HintContext
from hint_core.sandbox import RunResult
from hint_core.sandbox import TestResult as CaseResult  # not a test class

FACTORIAL = ProblemBank().get("factorial")
OFF_BY_ONE = (
    "def factorial(n):\n    result = 1\n    for i in range(1, n):\n        result *= i\n    return result\n"
)
WHILE_FIX = (
    "def factorial(n):\n    result = 1\n    i = 1\n    while i <= n:\n        result *= i\n        i += 1\n"
    "    return result\n"
)
PROD_FIX = "import math\n\ndef factorial(n):\n    return math.prod(range(1, n + 1))\n"
CLEAN = "Which values does your loop visit when n is 3? Does it ever multiply by n itself?"


class ScriptedLLM:
    """Answers hint prompts from a script, one answer per call."""

    def __init__(self, *answers: dict[str, str]):
        self.answers = [json.dumps(a) for a in answers]
        self.asked: list[list[dict[str, str]]] = []

    def ask(self, messages, phase, usage, n=1, request_id=None) -> LLMReply:
        self.asked.append(messages)
        reply = LLMReply(
            [self.answers.pop(0)], Usage(model="m", prompt_tokens=10, completion_tokens=5, calls=1)
        )
        usage.add(reply.usage)
        return reply


def never_passes(problem, program) -> RunResult:
    return RunResult(correct=False, status="wrong_answer")


def context(**overrides) -> HintContext:
    failing = CaseResult("three", "wrong_answer", "factorial(3)", "6", actual="2")
    values = dict(
        problem=FACTORIAL, hint_type="debug", student_program=OFF_BY_ONE,
        student_run=RunResult(correct=False, status="wrong_answer", tests=[failing]),
        selected_program=WHILE_FIX, known_programs=(PROD_FIX,),
    )
    values.update(overrides)
    return HintContext(**values)


def write(llm: ScriptedLLM, ctx: HintContext):
    usage, notes = Usage(), {}
    written = write_llm_hint(llm, PhaseConfig(), ctx, usage, notes, request_id=1, run=never_passes)
    return written, usage, notes


def test_a_solution_only_another_known_program_has_is_caught_and_regenerated():
    llm = ScriptedLLM(
        {"explanation": "off by one", "hint": "Just return math.prod(range(1, n + 1)) instead. Easy?"},
        {"explanation": "off by one", "hint": CLEAN},
    )
    written, usage, notes = write(llm, context())
    assert written.hint == CLEAN and len(llm.asked) == 2 and usage.calls == 2
    assert notes["leak_guard"]["action"] == "regenerated"
    assert any("only correct programs have" in r for r in notes["leak_guard"]["reasons"])


def test_the_known_programs_are_never_shown_to_the_llm():
    llm = ScriptedLLM({"explanation": "x", "hint": CLEAN})
    write(llm, context())
    prompt = "\n".join(m["content"] for m in llm.asked[0])
    assert "math.prod" not in prompt and "while i <= n" in prompt  # the selected program only


def test_a_look_alike_fix_is_caught():
    llm = ScriptedLLM(
        {"explanation": "x", "hint": "Write f\u043er i in r\u0430nge(\uff11, n + 1): and it works. Right?"},
        {"explanation": "x", "hint": CLEAN},
    )
    written, _, notes = write(llm, context(known_programs=(PROD_FIX, OFF_BY_ONE.replace("n):", "n + 1):"))))
    assert written.hint == CLEAN and notes["leak_guard"]["action"] == "regenerated"


def test_an_explanation_holding_the_program_is_redacted_without_asking_again():
    explanation = "The loop stops early. Corrected program:\n```python\n" + PROD_FIX + "```"
    llm = ScriptedLLM({"explanation": explanation, "hint": CLEAN})
    written, usage, notes = write(llm, context())
    assert written.hint == CLEAN and len(llm.asked) == 1 and usage.calls == 1
    assert "math.prod" not in written.explanation and "def factorial" not in written.explanation
    assert written.explanation.startswith("The loop stops early.")
    assert notes["leak_guard"]["action"] == "explanation redacted"
    assert "contains a code block" in notes["leak_guard"]["explanation_reasons"]
