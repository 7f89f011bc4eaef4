"""How right the offline (LLM-free) debug hints are: `python -m scripts.bench_offline`.

Runs every program of the labelled buggy set (`tests/fixtures/buggy/manifest.yaml`) through
the local sandbox, asks the offline engine for a debug hint, and checks each hint against
the labels and the program itself:

- coverage: a hint for every program (and it ends with a question);
- names the failing test: the call of the first failing test is quoted;
- names the crash line: for a program whose failing test raised, the line it raised on;
- points at the labelled line: a line the hint names is one the fix changes (or one the
  label allows: where the error surfaces, the loop that feeds a wrong index);
- misleading: the hint claims something false about the program (a missing loop when it
  has one, "never returns" when it returns, a path that falls off the end when none does,
  an error or a loop that never ends when the run showed none: checked on the program's
  syntax tree and its run), claims something the label does not allow for this bug, or
  points only at lines that have nothing to do with it;
- leaks: a line of a correct program (reference solutions, pool programs, the fix) that
  the student did not write appears in the hint or its explanation;
- time per hint.

Four evidence settings:

- `reference`: a fresh service; the correct programs known are the bank's solutions;
- `pool`: the pool also holds the fixed programs of the other students of the problem;
- `no solution`: a problem known only to the course's orchestration, no correct program;
- `remote`: the run came back from the course's remote execution: no per-test detail,
  only the problem handler's last line of output (`Test failed: f(x) should be 1, got 2`,
  the error's last traceback line, or nothing when the program was stopped).

The targets (issue 14) are judged on the held-out split (`split: heldout`, programs the
engine was never tuned on): misleading at most 10% with the reference only and 5% with a
pool, the crash line named in at least 90% of the programs that raise, coverage 100% and no
leak. `--show misleading` (or `all`) prints the hints with the reasons.
"""

from __future__ import annotations

import argparse
import ast
import re
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from hint_core.offline import OfflineHint, offline_hint
from hint_core.problems import Problem, ProblemBank
from hint_core.sandbox import ForkServerExecutor, RunResult, SandboxConfig
from hint_core.selection import Candidate, code_tokens, select_candidate

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "buggy"

# The targets of issue 14 (fractions of the programs of the held-out split).
MAX_MISLEADING = {"reference": 0.10, "pool": 0.05}
MIN_CRASH_LINE = 0.90


# --- the labelled set ----------------------------------------------------------------


@dataclass(frozen=True)
class BuggyProgram:
    """One labelled program of the set (see the header of manifest.yaml)."""

    file: str
    program: str
    split: str
    bug: str
    failing_call: str
    crashes: bool
    fix: dict[int, str | None]
    also_lines: tuple[int, ...] = ()
    may_claim: frozenset[str] = frozenset()

    @property
    def problem_id(self) -> str:
        return self.file.split("/")[0]

    @property
    def bug_lines(self) -> set[int]:
        return set(self.fix)

    @property
    def fixed_program(self) -> str:
        """The program with its fix applied: it passes every test."""
        out: list[str] = []
        for number, line in enumerate(self.program.splitlines(), 1):
            if number not in self.fix:
                out.append(line)
            elif self.fix[number] is not None:
                out.extend(str(self.fix[number]).split("\n"))
        return "\n".join(out) + "\n"


def load_set(folder: Path = FIXTURES) -> list[BuggyProgram]:
    entries = yaml.safe_load((folder / "manifest.yaml").read_text(encoding="utf-8"))
    unknown = {claim for e in entries for claim in e["may_claim"]} - set(CLAIMS)
    if unknown:
        raise ValueError(f"manifest.yaml: unknown claims {sorted(unknown)} (known: {sorted(CLAIMS)})")
    return [
        BuggyProgram(
            file=e["file"], program=(folder / e["file"]).read_text(encoding="utf-8"), split=e["split"],
            bug=e["bug"], failing_call=e["failing_call"], crashes=e["crashes"], fix=dict(e["fix"]),
            also_lines=tuple(e.get("also_lines") or ()), may_claim=frozenset(e["may_claim"]),
        )
        for e in entries
    ]


# --- what a hint claims, recognised in its words -------------------------------------------

# Each claim a hint can make about a program, and the words that make it. A hint that only
# names a line ("Look closely at line 4") or the failing test claims nothing.
CLAIMS: dict[str, re.Pattern[str]] = {name: re.compile(pattern) for name, pattern in {
    "syntax": r"Python cannot read",
    "error": r"Python does not know the name|is used before it gets a value|is None: line \d+ gives it"
             r"|the value of `[^`]+` is used, but|no longer means Python's|an index goes past the end"
             r"|goes through what it is given|Python needs something to go through|waits for input\(\)"
             r"|reads past the end of the input|divided by zero|which it does not have yet|which Python "
             r"cannot do"
             r"|has no such method|which is not a whole number|there is nothing to compare|names on the left"
             r"|does not exist where|The error on line",
    "stuck": r"How should it end|closer to its end|What happens to the loop when|Can that ever happen"
             r"|Which way should it go",
    "recursion": r"calls itself again and again|without ever reaching the base case",
    "loop_missing": r"goes through a loop there",
    "return_missing": r"never returns its result",
    "falls_off_end": r"reaches its end (?:after line \d+ )?without returning",
    "not_used": r"nothing is done with it|what happens to it afterwards",
    "printed": r"prints the result, but",
    "type": r"gives back .+ where .+ is expected",
    "missing_step": r"seems to be missing|handles a special case .* that yours does not",
    "special_case": r"Check the (?:base|special) case|Which is the smallest input",
    "bounds": r"range of values the loop|Which positions does the loop",
    "iterable": r"Look at what the loop on line \d+ goes through",
    "operator": r"Look at the operator on line",
    "comparison": r"Look at the comparison on line|Look at the test on line",
    "condition": r"Check the condition on line",
    "path": r"Follow this input through",
    "update": r"is updated on line",
    "starting_value": r"Check the starting value",
    "return": r"what line \d+ returns\. Is it|Line \d+ returns what",
    "value": r"Check the value used on line",
    "order": r"order of your checks",
    "placement": r"Look at where line \d+ sits",
    "extra": r"does something a working solution does without",
}.items()}
# Claims about the run itself rather than the bug, judged by the run whatever the labels say:
# a value of the wrong type; the way the failing test takes through a loop or condition that
# leads to the return of the wrong constant (the line is still checked).
FACTUAL = {"type", "path"}

LINE_NUMBERS = re.compile(r"\blines? (\d+)(?:(?:, | and )(\d+))*", re.IGNORECASE)


def claims_in(hint: str) -> set[str]:
    return {name for name, pattern in CLAIMS.items() if pattern.search(hint)}


def lines_named(hint: str) -> set[int]:
    found = set()
    for match in LINE_NUMBERS.finditer(hint):
        found.update(int(n) for n in re.findall(r"\d+", match.group(0)))
    return found


def _owner(tree: ast.Module, problem: Problem) -> ast.AST:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == problem.function:
            return node
    return tree


def false_claims(claims: set[str], program: str, problem: Problem, run: RunResult) -> list[str]:
    """Claims the program or its run shows to be false (independent of the engine's analyses)."""
    try:
        tree = ast.parse(program)
    except (SyntaxError, ValueError):
        if "syntax" in claims or not claims:
            return []
        return [f"claims {sorted(claims)} about a program Python cannot read"]
    owner = _owner(tree, problem)
    nodes = list(ast.walk(owner))
    failure = run.first_failure
    status = failure.status if failure else run.status
    error = (failure.error if failure else run.error) or ""
    out = []
    if "syntax" in claims:
        out.append("claims a syntax error; the program parses")
    loops = any(isinstance(n, ast.For | ast.While | ast.comprehension) for n in nodes)
    if "loop_missing" in claims and loops:
        out.append("claims a missing loop; the program has one")
    if "return_missing" in claims and any(isinstance(n, ast.Return) and n.value is not None for n in nodes):
        out.append("claims it never returns; it has a return")
    body = getattr(owner, "body", [])
    if "falls_off_end" in claims and body and isinstance(body[-1], ast.Return | ast.Raise):
        out.append("claims a path ends without a return; the function ends with one")
    if "error" in claims and status != "exception":
        out.append("explains an error; the program raised none")
    if "stuck" in claims and status not in ("timeout", "crashed") and not error.startswith("RecursionError"):
        out.append("claims a loop never ends; the run finished")
    if "printed" in claims and not any(isinstance(n, ast.Name) and n.id == "print" for n in ast.walk(tree)):
        out.append("talks about printing; the program prints nothing")
    if "type" in claims and (failure is None or failure.status != "wrong_answer"
                             or _kind(failure.actual) == _kind(failure.expected)):
        out.append("claims a value of the wrong type; the types agree")
    return out


def _kind(text: str | None) -> str | None:
    try:
        return type(ast.literal_eval(text)).__name__ if text is not None else None
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None


# --- evidence settings ----------------------------------------------------------------------


def remote_run(run: RunResult) -> RunResult:
    """What the course's remote execution would report for this run: the problem
    handler's last line of output, no per-test detail."""
    failure = run.first_failure
    if failure is None:
        text = run.error or ""
    elif failure.status == "wrong_answer":
        text = f"Test failed: {failure.call} should be {failure.expected}, got {failure.actual}"
    elif failure.status == "exception":
        text = re.sub(r"\s*\(line \d+\)$", "", failure.error or "")  # a traceback's last line
    else:
        text = ""  # stopped by the time limit: the handler saw no output
    return RunResult(correct=False, status="failed", tests=[], output=text, error=text or None,
                     run_time=run.run_time, cpu_time=run.cpu_time)


@dataclass
class Outcome:
    """One hint and what the checks found in it."""

    entry: BuggyProgram
    hint: OfflineHint
    seconds: float
    names_test: bool
    crash_line: int | None  # the line the failing test raised on, when it raised
    names_crash_line: bool
    points_at_bug: bool
    leaks: list[str]
    misleading: list[str] = field(default_factory=list)


def _solution_lines(programs: Iterable[str], student: str) -> set[str]:
    """Non-trivial lines of correct programs that the student did not write."""
    mine = {" ".join(line.split()) for line in student.splitlines()}
    out = set()
    for program in programs:
        for line in program.splitlines():
            text = " ".join(line.split())
            if len(code_tokens(line)) >= 5 and text not in mine:
                out.add(text)
    return out


def evaluate(entry: BuggyProgram, problem: Problem, run: RunResult, hint_run: RunResult,
             selected: str | None, known: tuple[str, ...] | None, correct: Iterable[str]) -> Outcome:
    started = time.perf_counter()
    made = offline_hint(problem, "debug", entry.program, hint_run, selected, None, known)
    seconds = time.perf_counter() - started
    text = " ".join(made.hint.split())
    failure = run.first_failure
    crash_line = failure.line if failure is not None and failure.status == "exception" else None
    named = lines_named(made.hint)
    claims = claims_in(made.hint)
    allowed_lines = entry.bug_lines | set(entry.also_lines) | ({crash_line} if crash_line else set())
    both = " ".join(f"{made.hint} {made.explanation}".split())
    outcome = Outcome(
        entry, made, seconds,
        names_test=entry.failing_call in made.hint or (hint_run is not run and bool(hint_run.error)
                                                       and _quoted(hint_run.error, text)),
        crash_line=crash_line,
        names_crash_line=crash_line is not None and crash_line in named,
        points_at_bug=bool(named & (entry.bug_lines | set(entry.also_lines))),
        leaks=sorted(line for line in _solution_lines(correct, entry.program) if line in both),
    )
    outcome.misleading += false_claims(claims, entry.program, problem, run)
    outcome.misleading += [f"claims {c} (not about this bug)"
                           for c in sorted(claims - entry.may_claim - FACTUAL)]
    if named and not named & allowed_lines:
        outcome.misleading.append(f"points at line(s) {sorted(named)}; the bug is on {sorted(allowed_lines)}")
    return outcome


def _quoted(evidence: str, hint: str) -> bool:
    """Whether the hint quotes the remote evidence (its first 40 characters will do)."""
    return " ".join(evidence.split())[:40] in hint


# --- running --------------------------------------------------------------------------------


Check = Callable[["Outcome"], bool]


@dataclass
class Figures:
    outcomes: list[Outcome]

    def share(self, test: Check, among: Check = lambda o: True) -> str:
        pool = [o for o in self.outcomes if among(o)]
        if not pool:
            return "-"
        hits = sum(1 for o in pool if test(o))
        return f"{100 * hits / len(pool):5.1f}% ({hits}/{len(pool)})"

    def fraction(self, test: Check, among: Check = lambda o: True) -> float:
        pool = [o for o in self.outcomes if among(o)]
        return sum(1 for o in pool if test(o)) / len(pool) if pool else 0.0


def run_set(entries: list[BuggyProgram], bank: ProblemBank,
            run: Callable[[Problem, str], RunResult]) -> dict[str, dict[str, list[Outcome]]]:
    """Every entry's hint in every evidence setting, keyed by setting then split."""
    runs = {e.file: run(bank.get(e.problem_id), e.program) for e in entries}
    out: dict[str, dict[str, list[Outcome]]] = {}
    for e in entries:
        problem = bank.get(e.problem_id)
        mine = runs[e.file]
        solutions = list(problem.solutions)
        pool = [o.fixed_program for o in entries if o.problem_id == e.problem_id and o.file != e.file]
        correct = solutions + pool + [e.fixed_program]
        settings = {
            "reference": (mine, _nearest(e.program, solutions), None),
            "pool": (mine, _nearest(e.program, solutions + pool), None),
            "no solution": (mine, None, ()),
            "remote": (remote_run(mine), _nearest(e.program, solutions), None),
        }
        for name, (hint_run, selected, known) in settings.items():
            outcome = evaluate(e, problem, mine, hint_run, selected, known, correct)
            out.setdefault(name, {}).setdefault(e.split, []).append(outcome)
    return out


def _nearest(program: str, correct: list[str]) -> str | None:
    candidates = [Candidate(i, p, 0.0) for i, p in enumerate(dict.fromkeys(correct))]
    chosen = select_candidate("debug", program, candidates)
    return chosen.program if chosen else None


def report(results: dict[str, dict[str, list[Outcome]]], splits: list[str]) -> list[str]:
    """The table, and the verdict on each target (held-out split)."""
    lines = []
    columns = ["coverage", "names test", "crash line", "points at bug", "misleading"]
    header = f"{'setting':<12} {'split':<8} {'n':>4} " + " ".join(f"{c:>16}" for c in columns) \
        + f" {'leaks':>5} {'ms/hint (median, max)':>22}"
    lines.append(header)
    for setting, by_split in results.items():
        for split in splits:
            outcomes = [o for s, os_ in by_split.items() if split in (s, "all") for o in os_]
            if not outcomes:
                continue
            f = Figures(outcomes)
            ms = [o.seconds * 1000 for o in outcomes]
            lines.append(
                f"{setting:<12} {split:<8} {len(outcomes):>4} "
                f"{f.share(lambda o: bool(o.hint.hint.strip()) and o.hint.hint.rstrip().endswith('?')):>16} "
                f"{f.share(lambda o: o.names_test):>16} "
                f"{f.share(lambda o: o.names_crash_line, lambda o: o.crash_line is not None):>16} "
                f"{f.share(lambda o: o.points_at_bug):>16} {f.share(lambda o: bool(o.misleading)):>16} "
                f"{sum(1 for o in outcomes if o.leaks):>5} {statistics.median(ms):>9.1f}, {max(ms):>8.1f}")
    return lines


def verdicts(results: dict[str, dict[str, list[Outcome]]], split: str = "heldout") -> list[tuple[str, bool]]:
    out = []
    for setting, limit in MAX_MISLEADING.items():
        f = Figures(results[setting].get(split, []))
        value = f.fraction(lambda o: bool(o.misleading))
        out.append((f"misleading with {setting} <= {limit:.0%}: {value:.1%}", value <= limit))
    for setting in MAX_MISLEADING:
        f = Figures(results[setting].get(split, []))
        value = f.fraction(lambda o: o.names_crash_line, lambda o: o.crash_line is not None)
        words = f"crash line named with {setting} >= {MIN_CRASH_LINE:.0%}: {value:.1%}"
        out.append((words, value >= MIN_CRASH_LINE))
    every = [o for by_split in results.values() for os_ in by_split.values() for o in os_]
    covered = all(o.hint.hint.strip() for o in every)
    out.append((f"coverage 100% in every setting: {'yes' if covered else 'no'}", covered))
    leaks = sum(1 for o in every if o.leaks)
    out.append((f"no leak in any setting: {leaks} hint(s) leak", leaks == 0))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=["dev", "heldout", "all"], default=None,
                        help="only this split (default: dev, heldout and all)")
    parser.add_argument("--problem", help="only the programs of this problem")
    parser.add_argument("--show", choices=["none", "misleading", "missed", "all"], default="none")
    parser.add_argument("--setting", default="reference", help="the setting --show prints")
    args = parser.parse_args(argv)

    entries = [e for e in load_set() if args.problem in (None, e.problem_id)]
    if args.split in ("dev", "heldout"):
        entries = [e for e in entries if e.split == args.split]
    bank = ProblemBank()
    executor = ForkServerExecutor(SandboxConfig())  # the one place that says how programs run
    started = time.perf_counter()
    try:
        results = run_set(entries, bank, executor.run)
    finally:
        executor.close()
    print(f"{len(entries)} programs, {len({e.problem_id for e in entries})} problems, "
          f"{time.perf_counter() - started:.0f} s with the sandbox runs\n")
    if args.show != "none":
        for split_outcomes in results[args.setting].values():
            for o in split_outcomes:
                missed = not o.points_at_bug or (o.crash_line is not None and not o.names_crash_line)
                wanted = {"all": True, "misleading": bool(o.misleading), "missed": missed}[args.show]
                if wanted:
                    e = o.entry
                    print(f"--- {e.file} [{e.split}] bug on {sorted(e.bug_lines)}: {e.bug}")
                    print(f"    {o.hint.hint}")
                    for reason in o.misleading:
                        print(f"    MISLEADING: {reason}")
        print()
    splits = [args.split] if args.split else ["dev", "heldout", "all"]
    print("\n".join(report(results, splits)))
    if args.split in (None, "heldout"):
        print("\nTargets (held-out split):")
        checks = verdicts(results)
        for words, met in checks:
            print(f"  [{'met' if met else 'MISSED'}] {words}")
        return 0 if all(met for _, met in checks) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
