"""The solution-leak guard: a hint may point the way, never hand over the fix.

Static checks on the hint text find a code block, a stretch of code that only the
working program has (a whole short line, or any run of NGRAM tokens, compared as
tokens so spacing does not matter), and an identifier or literal that occurs only in
the fix, i.e. in the working program but not in the student's program nor in what the
student already sees (problem text, template, failing test). A dynamic check takes the
code the hint or the explanation carries, splices it into the student's program and runs
the tests: if the program now passes, the text gives the answer away.

`redact` is the last resort once a stricter regeneration leaked too: it drops every
sentence that leaks or carries code.
"""

from __future__ import annotations

import ast
import difflib
import io
import keyword
import re
import tokenize
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from hint_core.problems import Problem
from hint_core.sandbox import RunResult, run_program

NGRAM = 5  # tokens of fix-only code that count as quoting it
MIN_LINE_TOKENS = 3  # shorter lines ("return x", "else:") are too common to count
MAX_RUNS = 4  # sandbox runs per check: splicing is evidence, not a search

Runner = Callable[[Problem, str], RunResult]

_TOKEN = re.compile(r"\w+|[^\w\s]")
_FENCE = re.compile(r"```[^\n`]*\n?(.*?)(?:```|$)", re.DOTALL)
_SPAN = re.compile(r"`([^`\n]+)`")
_IDENT = re.compile(r"[A-Za-z_]\w*")
_CODE_CONTEXT = re.compile(r"(?<![\w.])([A-Za-z_]\w*)(?=[(\[])|(?<=\w)\.([A-Za-z_]\w*)")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z`\"'(])")


@dataclass(frozen=True)
class LeakContext:
    """What the guard compares a hint with."""

    problem: Problem
    student_program: str
    working_program: str | None
    known_text: str = ""  # what the student already sees: problem, template, failing test
    check_by_running: bool = True  # False when the student's program already passes (optimize)


@dataclass(frozen=True)
class LeakReport:
    reasons: tuple[str, ...] = ()

    @property
    def fired(self) -> bool:
        return bool(self.reasons)


def leak_context(
    problem: Problem, student_program: str, working_program: str | None, evidence: str | None, student_correct: bool
) -> LeakContext:
    known = "\n".join([problem.description, problem.template, evidence or ""])
    return LeakContext(problem, student_program, working_program, known, check_by_running=not student_correct)


# --- tokens -------------------------------------------------------------------------------


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


def _code_lines(program: str) -> list[str]:
    """The program's lines without comments (tokenize knows a '#' inside a string)."""
    lines = program.splitlines()
    try:
        for tok in tokenize.generate_tokens(io.StringIO(program).readline):
            if tok.type == tokenize.COMMENT:
                row, col = tok.start
                lines[row - 1] = lines[row - 1][:col]
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    return [line for line in lines if line.strip()]


def _program_atoms(program: str) -> tuple[set[str], set[str], set[str]]:
    """(identifiers, numbers, string contents) of a program."""
    names, numbers, strings = set(), set(), set()
    try:
        for tok in tokenize.generate_tokens(io.StringIO(program).readline):
            if tok.type == tokenize.NAME and not keyword.iskeyword(tok.string):
                names.add(tok.string)
            elif tok.type == tokenize.NUMBER:
                numbers.add(tok.string)
            elif tok.type == tokenize.STRING:
                try:
                    value = ast.literal_eval(tok.string)
                except (ValueError, SyntaxError):
                    continue
                if isinstance(value, str) and value.strip():
                    strings.add(value)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        names = {t for t in _IDENT.findall(program) if not keyword.iskeyword(t)}
    return names, numbers, strings


def _contains(haystack: list[str], needle: list[str]) -> bool:
    n = len(needle)
    return n > 0 and any(haystack[i : i + n] == needle for i in range(len(haystack) - n + 1))


def _ngrams(tokens: list[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)}


# --- static checks ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Secrets:
    """What only the fix has, precomputed once per context."""

    short_lines: tuple[tuple[str, ...], ...]
    ngrams: frozenset[tuple[str, ...]]
    names: frozenset[str]
    numbers: frozenset[str]
    strings: frozenset[str]


def _secrets(ctx: LeakContext) -> _Secrets:
    if not ctx.working_program:
        return _Secrets((), frozenset(), frozenset(), frozenset(), frozenset())
    seen_lines = {tuple(_tokens(line)) for line in _code_lines(ctx.student_program) + _code_lines(ctx.problem.template)}
    seen_tokens = _tokens("\n".join(_code_lines(ctx.student_program))) + ["\n"] + _tokens(ctx.problem.template)
    seen_ngrams = _ngrams(seen_tokens, NGRAM)
    short, grams = [], set()
    for line in _code_lines(ctx.working_program):
        toks = _tokens(line)
        if tuple(toks) in seen_lines or len(toks) < MIN_LINE_TOKENS:
            continue
        if len(toks) < NGRAM:
            short.append(tuple(toks))
        grams |= _ngrams(toks, NGRAM) - seen_ngrams
    s_names, s_numbers, s_strings = _program_atoms(ctx.student_program)
    w_names, w_numbers, w_strings = _program_atoms(ctx.working_program)
    known_words = {w.lower() for w in _IDENT.findall(ctx.known_text)}
    known_numbers = set(re.findall(r"\d+(?:\.\d+)?", ctx.known_text))
    return _Secrets(
        short_lines=tuple(short),
        ngrams=frozenset(grams),
        names=frozenset(n for n in w_names - s_names if n.lower() not in known_words),
        numbers=frozenset(n for n in w_numbers - s_numbers if n not in known_numbers),
        strings=frozenset(
            s for s in w_strings - s_strings if len(s.strip()) >= 2 and s not in ctx.known_text
        ),
    )


def _code_names(text: str) -> set[str]:
    """Identifiers the text uses as code: in backticks, called, indexed, after a dot, or
    shaped like code (snake_case, camelCase, digits). Plain English words are not."""
    names = set()
    for span in _SPAN.findall(text):
        names |= set(_IDENT.findall(span))
    for called, attribute in _CODE_CONTEXT.findall(text):
        names.add(called or attribute)
    for word in _IDENT.findall(text):
        if "_" in word.strip("_") or any(c.isdigit() for c in word) or re.search(r"[a-z][A-Z]", word):
            names.add(word)
    return names


def _static_reasons(text: str, secrets: _Secrets) -> list[str]:
    reasons = []
    if _FENCE.search(text):
        reasons.append("contains a code block")
    toks = _tokens(text)
    for line in secrets.short_lines:
        if _contains(toks, list(line)):
            reasons.append(f"quotes the line '{' '.join(line)}' of the working program")
    quoted = _ngrams(toks, NGRAM) & secrets.ngrams
    if quoted:
        reasons.append(f"quotes code only the working program has: '{' '.join(sorted(quoted)[0])}'")
    names = sorted(_code_names(text) & secrets.names)
    if names:
        reasons.append(f"names identifier(s) only the fix uses: {', '.join(names)}")
    numbers = sorted(set(re.findall(r"(?<![\w.])\d+(?:\.\d+)?(?!\w|\.\d)", text)) & secrets.numbers)
    if numbers:
        reasons.append(f"gives value(s) only the fix uses: {', '.join(numbers)}")
    strings = sorted(s for s in secrets.strings if s in text)
    if strings:
        reasons.append(f"gives text only the fix uses: {', '.join(repr(s) for s in strings)}")
    return reasons


# --- the dynamic check: splice and run ----------------------------------------------------


def _is_code(snippet: str) -> bool:
    """Code worth running: parses as Python and is more than a bare name or value."""
    try:
        tree = ast.parse(snippet.strip())
    except SyntaxError:
        return False
    if not tree.body:
        return False
    if len(tree.body) == 1 and isinstance(tree.body[0], ast.Expr):
        return not isinstance(tree.body[0].value, ast.Name | ast.Constant | ast.Attribute)
    return True


def code_snippets(text: str) -> list[str]:
    """Code carried by a text: fenced blocks and inline spans that parse as code."""
    snippets = [body for body in _FENCE.findall(text) if body.strip()]
    rest = _FENCE.sub(" ", text)
    snippets += [span for span in _SPAN.findall(rest) if _is_code(span)]
    return snippets


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _replace_call(line: str, call: str) -> str | None:
    """`line` with its call to the same function as `call` (e.g. range(...)) replaced by it."""
    head = re.match(r"\s*([A-Za-z_][\w.]*)\s*\(", call)
    if not head:
        return None
    start = re.search(rf"(?<![\w.]){re.escape(head.group(1))}\s*\(", line)
    if not start:
        return None
    depth, i = 0, start.end() - 1
    for i in range(start.end() - 1, len(line)):
        depth += {"(": 1, ")": -1}.get(line[i], 0)
        if depth == 0:
            return line[: start.start()] + call.strip() + line[i + 1 :]
    return None


def _splices(student: str, snippet: str, function: str | None) -> Iterator[str]:
    """Programs made of the student's with the snippet put where it most plausibly goes."""
    if function and re.search(rf"^\s*def\s+{re.escape(function)}\s*\(", snippet, re.MULTILINE):
        yield snippet  # a whole function: it replaces the student's
    lines = student.splitlines()
    pieces = [p for p in snippet.splitlines() if p.strip()]
    if len(pieces) == 1 and not _is_statement(pieces[0]):
        for i, line in enumerate(lines):  # an expression such as range(1, n + 1)
            replaced = _replace_call(line, pieces[0])
            if replaced is not None and replaced != line:
                yield "\n".join([*lines[:i], replaced, *lines[i + 1 :]]) + "\n"
        return
    spliced, used = list(lines), set()
    for piece in pieces:
        scores = [
            (difflib.SequenceMatcher(None, line.strip(), piece.strip()).ratio(), i)
            for i, line in enumerate(lines)
            if line.strip() and i not in used
        ]
        if not scores:
            break
        ratio, best = max(scores)
        if ratio >= 0.5:
            spliced[best] = _indent(lines[best]) + piece.strip()
            used.add(best)
    if used:
        yield "\n".join(spliced) + "\n"


def _is_statement(piece: str) -> bool:
    try:
        tree = ast.parse(piece.strip())
    except SyntaxError:
        return True  # a block header such as "for i in range(n):" does not parse alone
    return not (len(tree.body) == 1 and isinstance(tree.body[0], ast.Expr))


def _passes_when_spliced(text: str, ctx: LeakContext, run: Runner, budget: list[int]) -> str | None:
    tried = {ctx.student_program}
    for snippet in code_snippets(text):
        for program in _splices(ctx.student_program, snippet, ctx.problem.function):
            if program in tried or budget[0] <= 0:
                continue
            tried.add(program)
            budget[0] -= 1
            if run(ctx.problem, program).correct:
                return snippet.strip()
    return None


# --- the guard ------------------------------------------------------------------------------


def find_leaks(hint: str, explanation: str, ctx: LeakContext, run: Runner = run_program) -> LeakReport:
    """Why the hint (or the explanation's code) gives the solution away; empty when it does not."""
    reasons = [f"hint {r}" for r in _static_reasons(hint, _secrets(ctx))]
    if reasons or not ctx.check_by_running:
        return LeakReport(tuple(reasons))
    budget = [MAX_RUNS]
    for where, text in (("hint", hint), ("explanation", explanation)):
        snippet = _passes_when_spliced(text, ctx, run, budget)
        if snippet is not None:
            reasons.append(f"{where} carries code that makes the student's program pass: {snippet[:80]!r}")
            break
    return LeakReport(tuple(reasons))


def _sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE_END.split(text) if s.strip()]


def redact_hint(hint: str, ctx: LeakContext) -> str:
    """The hint without code blocks and without every sentence that leaks or carries code."""
    secrets = _secrets(ctx)
    text = _FENCE.sub(" ", hint)
    kept = [s for s in _sentences(text) if not _static_reasons(s, secrets) and not code_snippets(s)]
    return re.sub(r"\s+", " ", " ".join(kept)).strip()


def redact_explanation(explanation: str) -> str:
    """The explanation (for teachers) keeps its words; only its code goes."""
    text = _FENCE.sub("[code removed]", explanation)
    text = _SPAN.sub(lambda m: "[code removed]" if _is_code(m.group(1)) else m.group(0), text)
    return text.strip()
