"""The service's vocabulary: hint types, engines and program sources.

String enums, so a value is stored and sent as the same plain string it always was
("debug", "openai", "llm") and compares equal to it.
"""

from __future__ import annotations

from enum import StrEnum


class HintType(StrEnum):
    PLAN = "plan"  # how to approach the problem
    DEBUG = "debug"  # the one most important bug
    OPTIMIZE = "optimize"  # speed, readability, memory

    @property
    def repairs(self) -> bool:
        """Plan and debug hints are built on a repaired program; optimize on a faster one."""
        return self is not HintType.OPTIMIZE


class Engine(StrEnum):
    """Who produced a phase or a hint."""

    OPENAI = "openai"  # an OpenAI-compatible LLM
    OFFLINE = "offline"  # the LLM-free engine
    CACHE = "cache"  # verified programs of an identical earlier request, no new LLM call
    POOL = "pool"  # the solution pool alone: a known-correct program was close enough
    TESTS = "tests"  # the student's program passed every test: no hint needed


class Source(StrEnum):
    """Where a candidate program (or a pool entry) came from."""

    LLM = "llm"
    REFERENCE = "reference"  # the instructor's reference solutions
    POOL = "pool"  # an earlier verified program
    STUDENT = "student"  # a student's own program that passed every test
