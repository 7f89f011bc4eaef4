"""The solution-leak guard: a hint may point the way, never hand over the fix.

It reads a text as the student will: every check runs on the text's reading form
(`hint_core.reading`: full-width and look-alike letters, zero-width characters, HTML
entities and spaced-out letters no longer hide anything).

Static checks find a code block, a stretch of code that only a known-correct program has
(a whole short line, or any run of NGRAM tokens, compared as tokens so spacing does not
matter), an identifier used as code that only those programs use, and a literal that
occurs only in the fix, i.e. in the selected working program but not in the student's
program nor in what the student already sees (problem text, template, failing test).
The known-correct programs are the selected one and every other the caller knows (the
pool, the reference solutions), so a different complete solution is caught too.

A dynamic check takes the code a text carries (fenced blocks, inline code, and a
statement written out in prose such as "just return math.prod(range(1, n + 1))"),
splices it into the student's program and runs the tests: if the program now passes,
the text gives the answer away.

The explanation gets the same checks: it is stored and sent in the callback, where a
student may read it. `redact_hint` drops every sentence that leaks or carries code;
`redact_explanation` keeps the explanation's words and removes its code and every
sentence that leaks.

Bounds: the static checks are linear in the length of the texts and programs (sets of
n-grams, no pairwise search); programs are cached by text up to 20,000 characters; the
dynamic check runs at most MAX_RUNS programs and only looks at the first MAX_SPLICE_LINES
lines of code a text carries. No program, however deep or long, raises out of the guard:
what does not parse or tokenize is treated as plain text.
"""

from __future__ import annotations

import ast
import difflib
import io
import keyword
import re
import tokenize
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache

from hint_core.markdown import SPAN, fences, without_fences
from hint_core.parsing import parse as parse_program  # one thread at a time (CPython 3.11)
from hint_core.problems import Problem
from hint_core.reading import reading_form
from hint_core.sandbox import RunResult

NGRAM = 5  # tokens of fix-only code that count as quoting it
MIN_LINE_TOKENS = 3  # shorter lines ("return x", "else:") are too common to count
MAX_RUNS = 4  # sandbox runs per check: splicing is evidence, not a search
MAX_SPLICE_LINES = 40  # lines of one snippet placed into the student's program
MAX_LINE_CHARS = 1_000  # longer lines of the student's program are no place a snippet goes
MAX_PROSE_WORDS = 60  # words of one sentence searched for a statement written in prose
CACHED_PROGRAM_CHARS = 20_000

# Standard modules a snippet may use without importing them (`math.prod(...)`): the
# splice adds the import, as a student following the hint would.
_MODULES = frozenset({"math", "itertools", "functools", "operator", "collections", "statistics", "string"})
# What ast.parse raises on text that is not Python or is too deep to build a tree for.
_UNPARSABLE = (SyntaxError, ValueError, RecursionError, MemoryError)

Runner = Callable[[Problem, str], RunResult]

_TOKEN = re.compile(r"\w+|[^\w\s]")
_IDENT = re.compile(r"[A-Za-z_]\w*")
_CODE_CONTEXT = re.compile(r"(?<![\w.])([A-Za-z_]\w*)(?=[(\[])|(?<=\w)\.([A-Za-z_]\w*)")
_NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?!\w|\.\d)")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z`\"'(])")


@dataclass(frozen=True)
class LeakContext:
    """What the guard compares a hint with."""

    problem: Problem
    student_program: str
    working_program: str | None  # the selected program the hint is built on
    known_text: str = ""  # what the student already sees: problem, template, failing test
    check_by_running: bool = True  # False when the student's program already passes (optimize)
    known_programs: tuple[str, ...] = ()  # every other known-correct program: pool, references


@dataclass(frozen=True)
class LeakReport:
    hint: tuple[str, ...] = ()  # why the hint gives the solution away
    explanation: tuple[str, ...] = ()  # why the explanation does

    @property
    def reasons(self) -> tuple[str, ...]:
        return tuple(f"hint {r}" for r in self.hint) + tuple(f"explanation {r}" for r in self.explanation)

    @property
    def fired(self) -> bool:
        return bool(self.hint or self.explanation)


def leak_context(
    problem: Problem, student_program: str, working_program: str | None, evidence: str | None,
    student_correct: bool, known_programs: Sequence[str] = (),
) -> LeakContext:
    known = "\n".join([problem.description, problem.template, evidence or ""])
    others = tuple(dict.fromkeys(p for p in known_programs if p and p != working_program))
    return LeakContext(
        problem, student_program, working_program, known,
        check_by_running=not student_correct, known_programs=others,
    )


# --- what a program shows -------------------------------------------------------------------


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


def _ngrams(tokens: Sequence[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)}


def _code_lines(program: str) -> list[str]:
    """The program's lines without comments (tokenize knows a '#' inside a string)."""
    lines = program.splitlines()
    try:
        for tok in tokenize.generate_tokens(io.StringIO(program).readline):
            if tok.type == tokenize.COMMENT:
                row, col = tok.start
                lines[row - 1] = lines[row - 1][:col]
    except (tokenize.TokenError, SyntaxError):
        pass
    return [line for line in lines if line.strip()]


def _atoms(program: str) -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """(identifiers, numbers, string contents) of a program."""
    names, numbers, strings = set(), set(), set()
    try:
        for tok in tokenize.generate_tokens(io.StringIO(program).readline):
            if tok.type == tokenize.NAME and not keyword.iskeyword(tok.string):
                names.add(tok.string)
            elif tok.type == tokenize.NUMBER:
                numbers.add(tok.string)
            elif tok.type == tokenize.STRING and len(tok.string) <= MAX_LINE_CHARS:
                try:
                    value = ast.literal_eval(tok.string)
                except _UNPARSABLE:
                    continue
                if isinstance(value, str) and value.strip():
                    strings.add(value)
    except (tokenize.TokenError, SyntaxError):
        names = {t for t in _IDENT.findall(program) if not keyword.iskeyword(t)}
    return frozenset(names), frozenset(numbers), frozenset(strings)


@dataclass(frozen=True)
class _Shown:
    """What one program shows, computed once per program text."""

    lines: frozenset[tuple[str, ...]]  # the tokens of each code line
    ngrams: frozenset[tuple[str, ...]]  # NGRAM-token runs, across line ends too
    names: frozenset[str]
    numbers: frozenset[str]
    strings: frozenset[str]


def _shown(program: str) -> _Shown:
    if len(program) <= CACHED_PROGRAM_CHARS:
        return _cached_shown(program)
    return _analyse(program)


@lru_cache(maxsize=2048)
def _cached_shown(program: str) -> _Shown:
    return _analyse(program)


def _analyse(program: str) -> _Shown:
    lines = _code_lines(program)
    names, numbers, strings = _atoms(program)
    return _Shown(
        lines=frozenset(tuple(_tokens(line)) for line in lines),
        ngrams=frozenset(_ngrams(_tokens("\n".join(lines)), NGRAM)),
        names=names, numbers=numbers, strings=strings,
    )


# --- static checks ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Secrets:
    """What only the known-correct programs have, computed once per context."""

    short_lines: dict[tuple[str, ...], str]  # lines of MIN_LINE_TOKENS to NGRAM - 1 tokens -> whose
    ngrams: frozenset[tuple[str, ...]]
    names: frozenset[str]
    numbers: frozenset[str]  # literals of the selected program only: a value another
    strings: frozenset[str]  # solution uses ("when n is 2") is no answer to this student


def _secrets(ctx: LeakContext) -> _Secrets:
    programs = [p for p in (ctx.working_program, *ctx.known_programs) if p]
    if not programs:
        return _Secrets({}, frozenset(), frozenset(), frozenset(), frozenset())
    student, template = _shown(ctx.student_program), _shown(ctx.problem.template)
    seen_lines = student.lines | template.lines
    seen_ngrams = student.ngrams | template.ngrams
    short: dict[tuple[str, ...], str] = {}
    grams: set[tuple[str, ...]] = set()
    names: set[str] = set()
    for program in reversed(programs):  # the selected program last: its name wins
        shown = _shown(program)
        whose = "the working program" if program == ctx.working_program else "a known-correct program"
        for line in shown.lines - seen_lines:
            if MIN_LINE_TOKENS <= len(line) < NGRAM:
                short[line] = whose
            elif len(line) >= NGRAM:
                grams |= _ngrams(line, NGRAM)
        names |= shown.names
    known_words = {w.lower() for w in _IDENT.findall(ctx.known_text)}
    known_numbers = set(re.findall(r"\d+(?:\.\d+)?", ctx.known_text))
    working = _shown(ctx.working_program) if ctx.working_program else _Shown(*[frozenset()] * 5)
    return _Secrets(
        short_lines=short,
        ngrams=frozenset(grams - seen_ngrams),
        names=frozenset(n for n in names - student.names if n.lower() not in known_words),
        numbers=frozenset(n for n in working.numbers - student.numbers if n not in known_numbers),
        strings=frozenset(
            s for s in working.strings - student.strings if len(s.strip()) >= 2 and s not in ctx.known_text
        ),
    )


def _code_names(text: str) -> set[str]:
    """Identifiers the text uses as code: in backticks, called, indexed, after a dot, or
    shaped like code (snake_case, camelCase, digits). Plain English words are not."""
    names = set()
    for span in SPAN.findall(text):
        names |= set(_IDENT.findall(span))
    for called, attribute in _CODE_CONTEXT.findall(text):
        names.add(called or attribute)
    for word in _IDENT.findall(text):
        if "_" in word.strip("_") or any(c.isdigit() for c in word) or re.search(r"[a-z][A-Z]", word):
            names.add(word)
    return names


def _static_reasons(form: str, secrets: _Secrets) -> list[str]:
    """Why `form` (a text's reading form) gives the fix away."""
    reasons = []
    if fences(form):
        reasons.append("contains a code block")
    toks = _tokens(form)
    windows = set().union(*(_ngrams(toks, n) for n in range(MIN_LINE_TOKENS, NGRAM)))
    for line in sorted(secrets.short_lines.keys() & windows):
        reasons.append(f"quotes the line '{' '.join(line)}' of {secrets.short_lines[line]}")
    quoted = _ngrams(toks, NGRAM) & secrets.ngrams
    if quoted:
        reasons.append(f"quotes code only correct programs have: '{' '.join(sorted(quoted)[0])}'")
    names = sorted(_code_names(form) & secrets.names)
    if names:
        reasons.append(f"names identifier(s) only the fix uses: {', '.join(names)}")
    numbers = sorted(set(_NUMBER.findall(form)) & secrets.numbers)
    if numbers:
        reasons.append(f"gives value(s) only the fix uses: {', '.join(numbers)}")
    strings = sorted(s for s in secrets.strings if s in form)
    if strings:
        reasons.append(f"gives text only the fix uses: {', '.join(repr(s) for s in strings)}")
    return reasons


# --- the code a text carries ----------------------------------------------------------------


def _parse(snippet: str) -> ast.Module | None:
    try:
        return parse_program(snippet)
    except _UNPARSABLE:
        return None


def _is_code(snippet: str) -> bool:
    """Code worth running: parses as Python and is more than a bare name or value."""
    tree = _parse(snippet.strip())
    if tree is None or not tree.body:
        return False
    if len(tree.body) == 1 and isinstance(tree.body[0], ast.Expr):
        return not isinstance(tree.body[0].value, ast.Name | ast.Constant | ast.Attribute)
    return True


def code_snippets(text: str) -> list[str]:
    """Code carried by a text: fenced blocks and inline spans that parse as code."""
    snippets = [fence.body for fence in fences(text) if fence.body.strip()]
    snippets += [span for span in SPAN.findall(without_fences(text)) if _is_code(span)]
    return snippets


def _is_statement_in_prose(fragment: str) -> bool:
    """A `return`, an assignment or an augmented assignment with an operator or a call in
    it ("return math.prod(range(1, n + 1))", "result = 1"): what a sentence can hand over."""
    tree = _parse(fragment)
    if tree is None or len(tree.body) != 1 or len(_tokens(fragment)) < MIN_LINE_TOKENS:
        return False
    statement = tree.body[0]
    if isinstance(statement, ast.Return):
        return statement.value is not None and bool(re.search(r"[-+*/%()\[\]<>=]", fragment))
    return isinstance(statement, ast.Assign | ast.AugAssign)


def prose_statements(text: str) -> list[str]:
    """Statements written out in the sentences of a text (outside code blocks and spans):
    per sentence the longest stretch, from the earliest word on, that is one."""
    plain = SPAN.sub(" ", without_fences(text))
    found = []
    for sentence in _SENTENCE_END.split(plain):
        words = sentence.replace("\n", " ").split()[:MAX_PROSE_WORDS]
        if words:
            words[-1] = words[-1].rstrip(".?!,;:")
        # A statement starts at "return" or at the target of an "=" within two words: only
        # those starts are tried, so a long sentence costs a few parses, not one per pair.
        starts = [i for i in range(len(words)) if words[i] == "return" or "=" in "".join(words[i : i + 2])]
        statement = next(
            (
                " ".join(words[i:j])
                for i in starts
                for j in range(len(words), i, -1)
                if _is_statement_in_prose(" ".join(words[i:j]))
            ),
            None,
        )
        if statement:
            found.append(statement)
    return found


# --- the dynamic check: splice and run ----------------------------------------------------


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


def _with_imports(program: str, snippet: str) -> str:
    """`program` importing the standard modules `snippet` uses and the program does not import."""
    used = {m for m in re.findall(r"(?<![\w.])([a-z]+)\.\w", snippet) if m in _MODULES}
    missing = [m for m in sorted(used) if not re.search(rf"^\s*(import|from)\s+{m}\b", program, re.MULTILINE)]
    return "".join(f"import {m}\n" for m in missing) + program


def _splices(student: str, snippet: str, function: str | None) -> Iterator[str]:
    """Programs made of the student's with the snippet put where it most plausibly goes."""
    if function and re.search(rf"^\s*def\s+{re.escape(function)}\s*\(", snippet, re.MULTILINE):
        yield snippet  # a whole function: it replaces the student's
    lines = student.splitlines()
    pieces = [p for p in snippet.splitlines() if p.strip()][:MAX_SPLICE_LINES]
    if function and len(pieces) == 1 and pieces[0].strip().startswith("return"):
        # A one-line solution ("return n * factorial(n - 1) if n else 1") as the whole body.
        header = re.search(rf"^[ \t]*def\s+{re.escape(function)}\s*\(.*\).*:[ \t]*$", student, re.MULTILINE)
        if header:
            yield f"{header.group(0)}\n{_indent(header.group(0))}    {pieces[0].strip()}\n"
    if len(pieces) == 1 and not _is_statement(pieces[0]):
        for i, line in enumerate(lines):  # an expression such as range(1, n + 1)
            replaced = _replace_call(line, pieces[0]) if len(line) <= MAX_LINE_CHARS else None
            if replaced is not None and replaced != line:
                yield "\n".join([*lines[:i], replaced, *lines[i + 1 :]]) + "\n"
        return
    spliced, used = list(lines), set()
    for piece in pieces:
        scores = [
            (difflib.SequenceMatcher(None, line.strip(), piece.strip()).ratio(), i)
            for i, line in enumerate(lines)
            if line.strip() and i not in used and len(line) <= MAX_LINE_CHARS
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
    tree = _parse(piece.strip())
    if tree is None:
        return True  # a block header such as "for i in range(n):" does not parse alone
    return not (len(tree.body) == 1 and isinstance(tree.body[0], ast.Expr))


def _passes_when_spliced(form: str, ctx: LeakContext, run: Runner, budget: list[int]) -> str | None:
    tried = {ctx.student_program}
    for snippet in code_snippets(form) + prose_statements(form):
        for program in _splices(ctx.student_program, snippet, ctx.problem.function):
            program = _with_imports(program, snippet)
            if program in tried or budget[0] <= 0:
                continue
            tried.add(program)
            budget[0] -= 1
            if run(ctx.problem, program).correct:
                return snippet.strip()
    return None


# --- the guard ------------------------------------------------------------------------------


def find_leaks(hint: str, explanation: str, ctx: LeakContext, run: Runner) -> LeakReport:
    """Why the hint, and why the explanation, give the solution away; empty when they do not."""
    secrets = _secrets(ctx)
    found: dict[str, list[str]] = {}
    budget = [MAX_RUNS]
    for where, text in (("hint", hint), ("explanation", explanation)):
        form = reading_form(text)
        found[where] = _static_reasons(form, secrets)
        if not found[where] and ctx.check_by_running:
            snippet = _passes_when_spliced(form, ctx, run, budget)
            if snippet is not None:
                found[where].append(f"carries code that makes the student's program pass: {snippet[:80]!r}")
    return LeakReport(tuple(found["hint"]), tuple(found["explanation"]))


def _sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE_END.split(text) if s.strip()]


def redact_hint(hint: str, ctx: LeakContext) -> str:
    """The hint without code blocks and without every sentence that leaks or carries code."""
    secrets = _secrets(ctx)
    kept = []
    for sentence in _sentences(without_fences(hint)):
        form = reading_form(sentence)
        if not _static_reasons(form, secrets) and not code_snippets(form):
            kept.append(sentence)
    return re.sub(r"\s+", " ", " ".join(kept)).strip()


CODE_REMOVED = "[code removed]"
REMOVED = "[removed: it gave the fix away]"


def redact_explanation(explanation: str, ctx: LeakContext) -> str:
    """The explanation (for teachers, but sent in the callback) keeps its words: its code
    becomes CODE_REMOVED and each sentence that still leaks becomes REMOVED."""
    secrets = _secrets(ctx)
    text = without_fences(explanation, CODE_REMOVED)
    text = SPAN.sub(lambda m: CODE_REMOVED if _is_code(reading_form(m.group(1))) else m.group(0), text)
    parts = re.split(f"({_SENTENCE_END.pattern})", text)  # sentences, with their separators between
    for i in range(0, len(parts), 2):
        if _static_reasons(reading_form(parts[i]), secrets):
            parts[i] = REMOVED
    return "".join(parts).strip()
