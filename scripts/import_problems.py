"""Import the original problem handler's programming tasks into this service's bank.

    python -m scripts.import_problems --from-ctl PROGRAMMING_TASKS_DIR --to BANK_DIR [PROBLEM_ID ...]

PROGRAMMING_TASKS_DIR holds task_metadata.yaml and the folders task_descriptions/,
template_code/, test_templates/, test_cases/ and execution_boxes/. Each task becomes one
problem folder in BANK_DIR: the description, the template, one test per check the
course's test scripts make, its timeout as limits, its execution box as assets.

A test script is read, never run (scripts/ctl_checks.py). Recognised checks
(docs/problems.md lists them): ``if f(args) != expected: <fail>``, ``r = f(args)`` then
``if r != expected``, the same inside ``not (... == ...)``, ``is not``, ``assert``,
``or``, ``elif`` and ``for`` loops over literal lists, variables assigned from literals,
transforms such as ``f().strip()``, and ``isinstance`` checks on a call that also has a
value check. Anything else makes the task *refused*, with the file and the line: a check
imported wrong would judge students wrong, silently. Refused tasks are reported and the
others imported; the exit status is then 1 (0 when every task was imported, 2 on a
usage error).

Importing again rewrites problem.yaml and assets/ from the source and keeps solutions/
(reference solutions the instructor added); a problem's tests_version changes only when
its tests do. A problem is built beside the old one and swapped in whole.
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TextIO

import yaml

from hint_core.literals import value_text
from hint_core.problem_format import dump_spec
from hint_core.problems import Compare, Limits, Problem, ProblemError, TestCase, load_problem_dir
from scripts.ctl_checks import Check, Refused, TestScript, TypeCheck, tests_from

INPUT_MARKER = "###{{{ INPUT_PROGRAM }}}###"
TESTS_MARKER = "###{{{ TEST_CASES }}}###"
TASK_KEYS = ("name", "task_description_file", "template_code_file", "test_template_file", "test_case_files",
             "execution_dir", "timeout")
# The course's scripts compare with Python's ==, under which 10.0 == 10 and True == 1;
# this bank compares types strictly unless told otherwise. isinstance checks become each
# test's instance_of, so a type the course demands is still demanded.
PYTHON_EQUALS = Compare(float_tolerance=0.0, bool_as_int=True)
PROBLEM_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*\Z")


class UsageError(Exception):
    """The source folder itself cannot be read; nothing is imported."""


# --- a task ---------------------------------------------------------------------------------------


@dataclass
class Task:
    id: str
    spec: dict[str, Any]
    root: Path
    warnings: list[str] = field(default_factory=list)

    def file(self, folder: str, key: str) -> Path:
        value = self.spec.get(key)
        if not isinstance(value, str) or not value:
            raise Refused(f"task_metadata.yaml: task {self.id}: '{key}' must name a file in {folder}/")
        path = self.root / folder / value
        if not path.is_file():
            raise Refused(f"task_metadata.yaml: task {self.id}: {folder}/{value} does not exist")
        return path

    def text(self, folder: str, key: str) -> str:
        path = self.file(folder, key)
        try:
            return path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise Refused(f"{path.relative_to(self.root)} is not UTF-8 text") from None


def _natural(path: Path) -> list[Any]:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name)]


def _template_functions(template: str, where: str) -> list[str]:
    try:
        tree = ast.parse(template)
    except (SyntaxError, ValueError) as exc:
        raise Refused(f"{where}: the template is not valid Python ({exc})") from None
    names = [n.name for n in tree.body if isinstance(n, ast.FunctionDef)]
    if not names:
        raise Refused(f"{where}: the template defines no function; only function tasks can be imported")
    return names


def _check_test_template(task: Task) -> None:
    if "test_template_file" not in task.spec:
        return
    text = task.text("test_templates", "test_template_file")
    where = f"test_templates/{task.spec['test_template_file']}"
    if INPUT_MARKER not in text or TESTS_MARKER not in text or \
            text.index(INPUT_MARKER) > text.index(TESTS_MARKER):
        raise Refused(f"{where}: expected the markers {INPUT_MARKER} then {TESTS_MARKER}; a test template "
                      f"that runs the tests differently cannot be imported")


def _limits(task: Task, files: int) -> Limits:
    timeout = task.spec.get("timeout")
    if timeout is None:
        return Limits()
    if type(timeout) not in (int, float) or not 0 < timeout <= 60:
        raise Refused(f"task_metadata.yaml: task {task.id}: timeout must be a number of seconds (0 to 60], "
                      f"not {timeout!r}")
    # The original gives each test script `timeout`; here one run executes all the tests.
    cpu = round(min(60.0, max(0.1, float(timeout) * files)), 3)
    return Limits(cpu_seconds=cpu, wall_seconds=round(min(120.0, max(0.5, cpu)), 3))


def _assets(task: Task) -> Iterator[tuple[str, Path]]:
    box_name = task.spec.get("execution_dir")
    if not box_name:
        return
    box = task.root / "execution_boxes" / str(box_name)
    if not box.is_dir():
        task.warnings.append(f"{task.id}: execution_boxes/{box_name} does not exist; "
                             f"the problem has no assets")
        return
    for path in sorted(box.rglob("*")):
        rel = path.relative_to(box).as_posix()
        if path.is_symlink():
            raise Refused(f"execution_boxes/{box_name}/{rel} is a symbolic link; copy the file itself")
        if path.is_file():
            if not rel.startswith("assets/"):
                raise Refused(f"execution_boxes/{box_name}/{rel}: only files under assets/ are placed in a "
                              f"program's working directory here; move it there (and its path in the tests)")
            yield rel, path


def convert(task: Task) -> tuple[dict[str, Any], dict[str, Path]]:
    """The problem's fields (for problem.yaml) and its assets; raises Refused."""
    unknown = sorted(set(task.spec) - set(TASK_KEYS))
    if unknown:
        task.warnings.append(f"{task.id}: task_metadata.yaml keys not used here: {', '.join(unknown)}")
    description = task.text("task_descriptions", "task_description_file")
    template = task.text("template_code", "template_code_file")
    defined = _template_functions(template, f"template_code/{task.spec['template_code_file']}")
    _check_test_template(task)
    pattern = task.spec.get("test_case_files")
    if not isinstance(pattern, str) or not pattern:
        raise Refused(f"task_metadata.yaml: task {task.id}: 'test_case_files' must be a glob "
                      f"under test_cases/")
    files = sorted((p for p in (task.root / "test_cases").glob(pattern) if p.is_file()), key=_natural)
    if not files:
        raise Refused(f"task_metadata.yaml: task {task.id}: no file matches test_cases/{pattern}")
    checks: list[Check | TypeCheck] = []
    stems: dict[str, str] = {}
    for path in files:
        where = path.relative_to(task.root).as_posix()
        stems[where] = path.name
        try:
            source = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise Refused(f"{where} is not UTF-8 text") from None
        checks += TestScript(source, where, tuple(defined)).read()
    tests = tests_from(checks, stems)
    if not tests:
        raise Refused(f"test_cases/{pattern}: no check found; a problem needs at least one test")
    called = {t.function for t in tests}
    functions = tuple(name for name in defined if name in called)
    main = functions[0]
    tests = [replace(t, function=None if t.function == main else t.function) for t in tests]
    fields = {"title": str(task.spec.get("name") or task.id), "description": description,
              "template": template, "functions": functions, "tests": tests,
              "limits": _limits(task, len(files)), "compare": PYTHON_EQUALS}
    return fields, dict(_assets(task))


# --- writing ---------------------------------------------------------------------------------------


def _write(bank: Path, task: Task, fields: dict[str, Any], assets: dict[str, Path]) -> tuple[str, Problem]:
    """Build the problem beside the old one, check that it loads, swap it in. Returns what
    happened (new, updated, unchanged) and the problem as loaded."""
    target = bank / task.id
    header = (f"# Imported from {task.root.name}/ (task {task.id}) by scripts.import_problems.\n"
              f"# Importing again rewrites this file and assets/; solutions/ is kept.\n")
    spec = dump_spec(header=header, **fields)
    old = None
    if target.is_dir():
        try:
            old = load_problem_dir(target)
        except ProblemError:
            old = None  # replaced by a sound one
    staging = Path(tempfile.mkdtemp(prefix=f".import-{task.id}-", dir=bank))
    try:
        (staging / "problem.yaml").write_text(spec, encoding="utf-8")
        for rel, source in assets.items():
            (staging / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, staging / rel)
        if (target / "solutions").is_dir():
            shutil.copytree(target / "solutions", staging / "solutions")
        else:
            (staging / "solutions").mkdir()
        staged = load_problem_dir(staging)
        if [_fingerprint(t) for t in staged.tests] != [_fingerprint(t) for t in fields["tests"]]:
            raise Refused(f"{task.id}: the tests did not read back exactly as written "
                          f"(a bug of this importer)")
        problem = Problem(**{**staged.__dict__, "id": task.id})
        same_text = (target / "problem.yaml").is_file() and \
            (target / "problem.yaml").read_text(encoding="utf-8") == spec
        if old is not None and old == problem and same_text:
            return "unchanged", old
        _swap(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if old is None:
        return "new", problem
    if old.tests_version != problem.tests_version:
        return f"updated, tests changed (version {old.tests_version} -> {problem.tests_version})", problem
    return "updated, tests unchanged", problem


def _fingerprint(test: TestCase) -> str:
    """A test as text that tells every type apart (a tuple from a list, True from 1)."""
    return value_text((test.name, test.function, test.args, test.kwargs, test.transform, test.instance_of,
                       test.expected))


def _swap(staging: Path, target: Path) -> None:
    if not target.exists():
        os.rename(staging, target)
        return
    retired = Path(tempfile.mkdtemp(prefix=f".retired-{target.name}-", dir=target.parent))
    os.rename(target, retired / target.name)
    try:
        os.rename(staging, target)
    except OSError:
        os.rename(retired / target.name, target)  # put the old one back
        raise
    finally:
        shutil.rmtree(retired, ignore_errors=True)


def read_metadata(root: Path) -> dict[str, dict[str, Any]]:
    path = root / "task_metadata.yaml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise UsageError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("tasks"), dict):
        raise UsageError(f"{path} must hold 'tasks:', a mapping of task ids")
    if data.get("version", 1) != 1:
        print(f"warning: {path}: version {data.get('version')!r}; this importer knows version 1",
              file=sys.stderr)
    return data["tasks"]


def import_tasks(root: Path, bank: Path, only: list[str], out: TextIO | None = None) -> int:
    """Import every task (or those in `only`) of `root` into `bank`; the exit status."""
    out = out or sys.stdout
    tasks = read_metadata(root)
    unknown = sorted(set(only) - set(tasks))
    if unknown:
        print(f"error: not in {root / 'task_metadata.yaml'}: {', '.join(unknown)}", file=sys.stderr)
        return 2
    bank.mkdir(parents=True, exist_ok=True)
    refused = 0
    chosen = [t for t in tasks if not only or t in only]
    for task_id in chosen:
        spec = tasks[task_id]
        task = Task(str(task_id), spec if isinstance(spec, dict) else {}, root)
        try:
            if not PROBLEM_ID.match(task.id):
                raise Refused(f"task id {task.id!r} cannot be a problem id (letters, digits, _ . -)")
            if not isinstance(spec, dict):
                raise Refused(f"task_metadata.yaml: task {task.id} must be a mapping of its settings")
            fields, assets = convert(task)
            outcome, problem = _write(bank, task, fields, assets)
        except (Refused, ProblemError) as exc:
            refused += 1
            print(f"REFUSED {task.id}: {exc}", file=out)
            continue
        count = len(problem.tests)
        print(f"ok      {task.id}: {count} test{'' if count == 1 else 's'} ({outcome})", file=out)
        if not problem.solutions:
            folder = bank / task.id / "solutions"
            task.warnings.append(f"{task.id}: no reference solution; add some to {folder}/ "
                                 f"(python -m scripts.check_problems says so too)")
        for warning in task.warnings:
            print(f"warn    {warning}", file=out)
    summary = f"{len(chosen) - refused} of {len(chosen)} tasks imported"
    print(summary + (f"; {refused} refused" if refused else ""), file=out)
    return 1 if refused else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.import_problems",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--from-ctl", dest="source", type=Path, required=True,
                        metavar="PROGRAMMING_TASKS_DIR")
    parser.add_argument("--to", dest="bank", type=Path, required=True, metavar="BANK_DIR")
    parser.add_argument("problem_ids", nargs="*", metavar="PROBLEM_ID",
                        help="only these tasks (default: all)")
    args = parser.parse_args(argv)
    if not (args.source / "task_metadata.yaml").is_file():
        print(f"error: {args.source} holds no task_metadata.yaml", file=sys.stderr)
        return 2
    try:
        return import_tasks(args.source, args.bank, args.problem_ids)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
