"""Stored text made safe to show: bounded in size, split into lines, compared with difflib.

Everything here returns plain strings and numbers; the templates escape them (autoescape).
Bounds keep a 100,000-character program from freezing a page: the full text stays one
click away as text/plain.
"""

from __future__ import annotations

import difflib
import io
import json
import re
import tokenize
from dataclasses import dataclass
from typing import Any

MAX_LINES = 400  # lines of a program shown on a page
MAX_LINE_CHARS = 300  # characters of one line shown
MAX_TEXT_CHARS = 20_000  # characters of a prompt, answer or note shown
MAX_DIFF_INPUT_LINES = 3_000  # programs longer than this are not diffed on the page
MAX_DIFF_ROWS = 400

_LINE_IN_ERROR = re.compile(r"\(line (\d+)\)|line (\d+)")


@dataclass(frozen=True)
class Clipped:
    text: str
    hidden: int  # characters not shown


def clip(text: str | None, limit: int = MAX_TEXT_CHARS) -> Clipped:
    text = text or ""
    return Clipped(text, 0) if len(text) <= limit else Clipped(text[:limit], len(text) - limit)


@dataclass(frozen=True)
class Line:
    number: int
    text: str
    hidden: int  # characters cut from this line
    marked: bool = False


@dataclass(frozen=True)
class ProgramView:
    lines: list[Line]
    hidden_lines: int
    total_chars: int


def program_view(program: str | None, marked: int | None = None) -> ProgramView:
    program = program or ""
    all_lines = program.splitlines() or [""]
    shown = [
        Line(i, line[:MAX_LINE_CHARS], max(0, len(line) - MAX_LINE_CHARS), i == marked)
        for i, line in enumerate(all_lines[:MAX_LINES], start=1)
    ]
    return ProgramView(shown, max(0, len(all_lines) - MAX_LINES), len(program))


@dataclass(frozen=True)
class DiffRow:
    kind: str  # "hunk", "same", "del", "add"
    old: int | None
    new: int | None
    text: str


@dataclass(frozen=True)
class Diff:
    rows: list[DiffRow]
    too_large: bool = False
    hidden_rows: int = 0

    @property
    def added(self) -> int:
        return sum(r.kind == "add" for r in self.rows)

    @property
    def removed(self) -> int:
        return sum(r.kind == "del" for r in self.rows)


def diff(student: str | None, other: str | None) -> Diff:
    """A unified diff (3 lines of context) from the student's program to another."""
    a, b = (student or "").splitlines(), (other or "").splitlines()
    if len(a) > MAX_DIFF_INPUT_LINES or len(b) > MAX_DIFF_INPUT_LINES:
        return Diff([], too_large=True)
    rows: list[DiffRow] = []
    for group in difflib.SequenceMatcher(None, a, b, autojunk=False).get_grouped_opcodes(3):
        first = group[0]
        rows.append(DiffRow("hunk", first[1] + 1, first[3] + 1, ""))
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                rows += [
                    DiffRow("same", i + 1, j + 1, a[i][:MAX_LINE_CHARS])
                    for i, j in zip(range(i1, i2), range(j1, j2), strict=True)
                ]
                continue
            rows += [DiffRow("del", i + 1, None, a[i][:MAX_LINE_CHARS]) for i in range(i1, i2)]
            rows += [DiffRow("add", None, j + 1, b[j][:MAX_LINE_CHARS]) for j in range(j1, j2)]
    return Diff(rows[:MAX_DIFF_ROWS], hidden_rows=max(0, len(rows) - MAX_DIFF_ROWS))


def failing_line(run: dict[str, Any] | None) -> int | None:
    """The student's line the run blames: the first failing test's that names one, or the error's."""
    if not isinstance(run, dict):
        return None
    for test in run.get("tests") or []:  # a wrong answer names no line; an exception does
        line = test.get("line") if isinstance(test, dict) and test.get("status") != "passed" else None
        if isinstance(line, int) and line > 0:
            return line
    error = run.get("error")
    if isinstance(error, str):
        found = _LINE_IN_ERROR.search(error)
        if found:
            return int(found.group(1) or found.group(2))
    return None


def pretty_json(value: Any) -> Clipped:
    """Stored JSON shown as indented text (clipped)."""
    return clip(json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str))


def strip_comments(program: str) -> str:
    """The program without its `#` comments (lines holding only a comment disappear).

    Uses Python's tokenizer so a `#` inside a string stays; a program that does not
    tokenize (a syntax error) loses everything from an unquoted `#` to the end of a line.
    """
    try:
        comments = [
            tok
            for tok in tokenize.generate_tokens(io.StringIO(program).readline)
            if tok.type == tokenize.COMMENT
        ]
    except (tokenize.TokenError, IndentationError, SyntaxError):
        kept = [_cut_comment(line) for line in program.splitlines() if not line.lstrip().startswith("#")]
        return "\n".join(kept)
    lines = program.splitlines(keepends=True)
    for tok in reversed(comments):  # from the end, so earlier positions stay valid
        row, col = tok.start
        line = lines[row - 1]
        ending = line[len(line.rstrip("\r\n")) :]
        kept = line[:col].rstrip()
        lines[row - 1] = (kept + ending) if kept else ""
    return "".join(lines)


def _cut_comment(line: str) -> str:
    quote: str | None = None
    escaped = False
    for i, ch in enumerate(line):
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "#":
            return line[:i].rstrip()
    return line
