"""Choosing the correct candidate a hint is built on.

plan/debug: the candidate closest to the student's program, measured in edited tokens,
so the hint talks about the smallest change that works. optimize: the fastest one.

Bounds: tokenizing is linear in a program's length and never raises (text the tokenizer
rejects, however deep or long, is split into words and symbols instead); a distance is
rapidfuzz's bit-parallel Levenshtein, O(n * m / 64) for token counts n and m (two
100,000-character programs: well under a second).
"""

from __future__ import annotations

import builtins
import io
import keyword
import re
import tokenize
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz.distance import Levenshtein

_LAYOUT = {tokenize.INDENT, tokenize.DEDENT, tokenize.NEWLINE}
_SKIP = {tokenize.COMMENT, tokenize.NL, tokenize.ENCODING, tokenize.ENDMARKER}
_LAYOUT_NAMES = {tokenize.tok_name[t] for t in _LAYOUT}  # "NEWLINE" is layout, not a name
_BUILTIN_NAMES = set(dir(builtins))
_FALLBACK = re.compile(r"\w+|[^\w\s]")


# The same programs are tokenized again and again (a student's program by every step,
# reference solutions and pool entries by every request): remember the usual sizes.
CACHED_PROGRAM_CHARS = 20_000


def code_tokens(program: str) -> list[str]:
    """Python tokens of a program, without comments or blank lines.

    Falls back to a plain word/symbol split for text that does not tokenize, so a
    syntax error in the student's program still has a distance to every candidate.
    """
    if len(program) <= CACHED_PROGRAM_CHARS:
        return list(_cached_tokens(program))
    return _tokens(program)


@lru_cache(maxsize=1024)
def _cached_tokens(program: str) -> tuple[str, ...]:
    return tuple(_tokens(program))


def _tokens(program: str) -> list[str]:
    try:
        return [
            tokenize.tok_name[tok.type] if tok.type in _LAYOUT else tok.string
            for tok in tokenize.generate_tokens(io.StringIO(program).readline)
            if tok.type not in _SKIP
        ]
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return _FALLBACK.findall(program)


def normalized_tokens(program: str) -> list[str]:
    """Tokens with local names renamed in order of appearance (v0, v1, ...).

    Two programs that differ only in comments, layout or variable names get the same list.
    """
    names: dict[str, str] = {}
    out = []
    for tok in code_tokens(program):
        local = not keyword.iskeyword(tok) and tok not in _BUILTIN_NAMES and tok not in _LAYOUT_NAMES
        if tok.isidentifier() and local:
            tok = names.setdefault(tok, f"v{len(names)}")
        out.append(tok)
    return out


def token_distance(a: str, b: str) -> int:
    return Levenshtein.distance(code_tokens(a), code_tokens(b))


def token_distances(program: str, others: Sequence[str]) -> list[int]:
    """token_distance from `program` to each of `others`, tokenizing `program` once."""
    mine = code_tokens(program)
    return [Levenshtein.distance(mine, code_tokens(other)) for other in others]


@dataclass(frozen=True)
class Candidate:
    """A verified-correct program and what is known about it."""

    key: int  # the EnhancedProgram id, or an index
    program: str
    run_time: float
    distance: int | None = None  # token_distance to the student's program, when already known


def select_candidate(
    hint_type: str, student_program: str, candidates: Sequence[Candidate]
) -> Candidate | None:
    """The best correct candidate for this hint type, or None when there is none."""
    if not candidates:
        return None
    if hint_type == "optimize":
        return min(candidates, key=lambda c: (c.run_time, c.key))
    student = code_tokens(student_program)

    def distance(c: Candidate) -> int:
        return c.distance if c.distance is not None else Levenshtein.distance(student, code_tokens(c.program))

    return min(candidates, key=lambda c: (distance(c), c.key))
