"""Checks that a problem is sound: sane limits, sendable tests, solutions that pass and a
template that fails. Used by ``python -m scripts.check_problems``; every message names
the problem and the field. Warnings (a problem without reference solutions) do not make
a problem unsound."""

from __future__ import annotations

import math
import posixpath
from dataclasses import fields
from pathlib import Path

from hint_core.problems import Compare, Limits, Problem
from hint_core.sandbox import Executor, wire

# field: (type, lowest sane value, highest sane value)
LIMIT_RANGES: dict[str, tuple[type, float, float]] = {
    "cpu_seconds": (float, 0.1, 60),
    "wall_seconds": (float, 0.5, 120),
    "memory_mb": (int, 64, 4096),  # the interpreter alone needs about 30 MB of address space
    "max_processes": (int, 1, 1024),
    "file_size_kb": (int, 1, 1024 * 1024),
    "open_files": (int, 16, 4096),
    "output_bytes": (int, 1024, 16 * 1024 * 1024),
    "recursion_limit": (int, 100, 100_000),
}


def check_limits(problem_id: str, limits: Limits) -> list[str]:
    errors = []
    for f in fields(Limits):
        value = getattr(limits, f.name)
        kind, low, high = LIMIT_RANGES[f.name]
        where = f"{problem_id}: limits.{f.name}"
        ok_type = type(value) is int or (kind is float and type(value) is float)
        if not ok_type:
            errors.append(f"{where} must be a {'number' if kind is float else 'whole number'}, not {value!r}")
        elif not low <= value <= high:
            errors.append(f"{where} is {value!r}; a sane value is between {low:g} and {high:g}")
    if not errors and limits.wall_seconds < limits.cpu_seconds:
        errors.append(f"{problem_id}: limits.wall_seconds ({limits.wall_seconds:g}) is below "
                      f"limits.cpu_seconds ({limits.cpu_seconds:g})")
    return errors


def check_compare(problem: Problem) -> list[str]:
    errors = []
    c: Compare = problem.compare
    tol = c.float_tolerance
    if tol is not None and (type(tol) not in (int, float) or not (0 <= tol < 1) or math.isnan(tol)):
        errors.append(f"{problem.id}: compare.float_tolerance must be a number in [0, 1), not {tol!r}")
    for flag in ("unordered", "bool_as_int"):
        if type(getattr(c, flag)) is not bool:
            errors.append(f"{problem.id}: compare.{flag} must be true or false, not {getattr(c, flag)!r}")
    if c.whitespace not in ("exact", "rstrip_lines", "tokens"):
        errors.append(f"{problem.id}: compare.whitespace must be exact, rstrip_lines or tokens, "
                      f"not {c.whitespace!r}")
    return errors


def check_tests(problem: Problem) -> list[str]:
    errors = []
    seen: set[str] = set()
    for i, test in enumerate(problem.tests):
        where = f"{problem.id}: tests[{i}] ({test.name})"
        if test.name in seen:
            errors.append(f"{where}: name repeats an earlier test's")
        seen.add(test.name)
        if problem.kind == "function":
            values = (("args", list(test.args)), ("kwargs", dict(test.kwargs)), ("expected", test.expected))
            for label, value in values:
                try:
                    wire.encode(value)
                except wire.BadValue as exc:
                    errors.append(f"{where}: '{label}' holds {exc}")
            if any(not (isinstance(k, str) and k.isidentifier()) for k in test.kwargs):
                errors.append(f"{where}: 'kwargs' keys must be parameter names")
        elif len(test.stdin.encode()) > problem.limits.file_size_kb * 1024:
            errors.append(f"{where}: 'stdin' is larger than limits.file_size_kb")
    return errors


def check_assets(problem: Problem) -> list[str]:
    errors = []
    for rel, content in problem.assets.items():
        norm = posixpath.normpath(rel)
        if rel.startswith("/") or norm.startswith("..") or norm != rel:
            errors.append(f"{problem.id}: assets: '{rel}' is not a plain relative path")
        if len(content) > problem.limits.file_size_kb * 1024:
            errors.append(f"{problem.id}: assets: '{rel}' is larger than limits.file_size_kb")
    return errors


def problem_warnings(problem: Problem) -> list[str]:
    """What is allowed but worth an instructor's attention."""
    warnings = []
    if not problem.solutions:
        warnings.append(f"{problem.id}: solutions/ holds no reference solution: the tests are not checked "
                        f"against a correct program, and hints start with no working program to build on")
    return warnings


def check_problem(problem: Problem, executor: Executor, folder: Path | None = None) -> list[str]:
    """Every error found, each naming the problem and the field; empty when sound."""
    errors = check_limits(problem.id, problem.limits) + check_compare(problem) + check_tests(problem) \
        + check_assets(problem)
    if errors:
        return errors  # running programs against a malformed problem says nothing more
    names = [p.name for p in sorted((folder / "solutions").glob("*.py"))] if folder else []
    for i, solution in enumerate(problem.solutions):
        name = names[i] if i < len(names) else f"solution {i + 1}"
        result = executor.run(problem, solution)
        if not result.correct:
            errors.append(f"{problem.id}: solutions/{name} fails: {result.first_failure_text()}")
    result = executor.run(problem, problem.template)
    if result.correct:
        errors.append(f"{problem.id}: template passes every test; it should fail at least one")
    return errors
