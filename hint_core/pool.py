"""The solution pool of a problem: known-correct programs, their normal form and retrieval.

Every program that passed all tests (the bank's reference solutions, verified LLM
candidates, correct student programs) can join the pool of its problem. Entries are
deduplicated by a normal form in which comments, docstrings, layout and variable names
no longer show, so a thousand students writing the same loop make one entry.

Retrieval answers "which known-correct program is closest to this student's?" in token
edit distance over the normal form, and "which is fastest?". An index sorted by length
answers the first for thousands of entries in a few milliseconds: the length difference
is a lower bound of the edit distance, so most entries are never compared.

No database here: `hint_actors` stores the entries and the tests version they were
verified against, and hands lists of them in.
"""

from __future__ import annotations

import ast
import bisect
import hashlib
import heapq
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from rapidfuzz.distance import Levenshtein

from hint_core.sandbox import RunResult
from hint_core.selection import CACHED_PROGRAM_CHARS, code_tokens, normalized_tokens


class _BoundNames(ast.NodeVisitor):
    """The variable names a program binds: parameters, assignment and loop targets."""

    def __init__(self) -> None:
        self.names: set[str] = set()

    def visit_Name(self, node: ast.Name) -> None:  # noqa: N802 - ast visitor naming
        if isinstance(node.ctx, ast.Store | ast.Del):
            self.names.add(node.id)

    def visit_arg(self, node: ast.arg) -> None:
        self.names.add(node.arg)
        self.generic_visit(node)

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:  # noqa: N802
        if node.name:
            self.names.add(node.name)
        self.generic_visit(node)


class _Renamer(ast.NodeTransformer):
    """Renames bound variables to v0, v1, ... in order of appearance.

    Function and class names, attributes, imported modules and builtins keep their
    names: they are part of what the program does, not of how the student named things.
    """

    def __init__(self, bound: set[str]) -> None:
        self.bound = bound
        self.mapping: dict[str, str] = {}

    def _new(self, name: str) -> str:
        if name not in self.bound:
            return name
        return self.mapping.setdefault(name, f"v{len(self.mapping)}")

    def visit_Name(self, node: ast.Name) -> ast.Name:  # noqa: N802
        node.id = self._new(node.id)
        return node

    def visit_arg(self, node: ast.arg) -> ast.arg:
        node.arg = self._new(node.arg)
        self.generic_visit(node)
        return node

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> ast.ExceptHandler:  # noqa: N802
        if node.name:
            node.name = self._new(node.name)
        self.generic_visit(node)
        return node

    def visit_Global(self, node: ast.Global) -> ast.Global:  # noqa: N802
        node.names = [self._new(n) for n in node.names]
        return node

    visit_Nonlocal = visit_Global  # noqa: N815


def drop_docstrings(tree: ast.AST) -> None:
    """Remove docstrings in place: like comments, they say nothing about what the code does."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                node.body = body[1:] or [ast.Pass()]


def bound_names(tree: ast.AST) -> set[str]:
    """The variable names a program binds (parameters, assignment, loop and `as` targets)."""
    finder = _BoundNames()
    finder.visit(tree)
    return finder.names


def canonical_tree(program: str) -> ast.Module | None:
    """The program's syntax tree with docstrings dropped and variables renamed, or None
    when it does not parse. Line numbers still point into the original program."""
    try:
        tree = ast.parse(program)
    except (SyntaxError, ValueError):
        return None
    drop_docstrings(tree)
    return _Renamer(bound_names(tree)).visit(tree)


def canonical_source(program: str) -> str | None:
    """The normal form as source text (None when the program does not parse)."""
    tree = canonical_tree(program)
    return None if tree is None else ast.unparse(tree)


def canonical_form(program: str) -> tuple[str, list[str]]:
    """The dedup key and the canonical tokens of a program, from one parse."""
    if len(program) <= CACHED_PROGRAM_CHARS:
        key, tokens = _cached_form(program)
        return key, list(tokens)
    return _canonical_form(program)


@lru_cache(maxsize=1024)
def _cached_form(program: str) -> tuple[str, tuple[str, ...]]:
    key, tokens = _canonical_form(program)
    return key, tuple(tokens)


def _canonical_form(program: str) -> tuple[str, list[str]]:
    source = canonical_source(program)
    if source is None:
        tokens = normalized_tokens(program)
        text = "\x1f".join(tokens)
    else:
        tokens, text = code_tokens(source), source
    return hashlib.sha256(text.encode()).hexdigest(), tokens


def canonical_tokens(program: str) -> list[str]:
    """Tokens of the normal form; for text that does not parse, its tokens with every
    name renamed, so that even a syntax error has a distance to every entry."""
    return canonical_form(program)[1]


def dedup_key(program: str) -> str:
    """Equal for programs that differ only in comments, docstrings, layout or names."""
    return canonical_form(program)[0]


def work_seconds(run: RunResult) -> float:
    """The time that reflects the program's own work: the CPU time the sandbox measured
    when it reports one (a fork server starts no interpreter per run), else wall time."""
    cpu = getattr(run, "cpu_time", 0.0) or 0.0
    return cpu if cpu > 0 else run.run_time


@dataclass(frozen=True)
class PoolEntry:
    """A known-correct program of one problem, verified against the current tests."""

    key: int
    program: str
    tokens: tuple[str, ...]  # canonical_tokens(program)
    run_time: float  # work_seconds of its verifying run
    source: str  # "reference", "llm", "student", "pool"


@dataclass(frozen=True)
class PoolMatch:
    entry: PoolEntry
    distance: int  # token edit distance between normal forms


class _Codes:
    """Token -> one character, so a token list becomes a string and rapidfuzz compares it
    with its bit-parallel string algorithm instead of hashing list items."""

    def __init__(self) -> None:
        self._codes: dict[str, str] = {}
        self._lock = threading.Lock()  # worker threads share an index; a token gets one code

    def encode(self, tokens: Iterable[str]) -> str:
        out = []
        for token in tokens:
            code = self._codes.get(token)
            if code is None:
                with self._lock:
                    code = self._codes.get(token)
                    if code is None:
                        n = len(self._codes) + 0x100
                        if n >= 0xD800:  # skip the surrogate range
                            n += 0x800
                        code = self._codes[token] = chr(n)
            out.append(code)
        return "".join(out)


class PoolIndex:
    """Nearest and fastest entries of one problem's pool. Immutable: `extended` returns a
    new index, so threads can go on reading the old one."""

    def __init__(self, entries: Iterable[PoolEntry], codes: _Codes | None = None):
        self._codes = codes or _Codes()
        encoded = sorted(((self._codes.encode(e.tokens), e) for e in entries), key=lambda p: (len(p[0]), p[1].key))
        self._strings = [s for s, _ in encoded]
        self._entries = [e for _, e in encoded]
        self._lengths = [len(s) for s in self._strings]

    def __len__(self) -> int:
        return len(self._entries)

    def extended(self, entries: Iterable[PoolEntry]) -> PoolIndex:
        """This index plus `entries` (already encoded entries are not encoded again)."""
        grown = PoolIndex((), self._codes)
        pairs = list(zip(self._strings, self._entries, strict=True))
        for entry in entries:
            code = self._codes.encode(entry.tokens)
            bisect.insort(pairs, (code, entry), key=lambda p: (len(p[0]), p[1].key))
        grown._strings = [s for s, _ in pairs]
        grown._entries = [e for _, e in pairs]
        grown._lengths = [len(s) for s in grown._strings]
        return grown

    def nearest(self, program: str, k: int = 1) -> list[PoolMatch]:
        """The `k` entries closest to `program` (ties: lower key first)."""
        return self.nearest_tokens(canonical_tokens(program), k)

    def nearest_tokens(self, tokens: Sequence[str], k: int = 1) -> list[PoolMatch]:
        if k < 1 or not self._entries:
            return []
        query = self._codes.encode(tokens)
        n = len(query)
        # Walk outwards from entries of the query's length; |len(a) - len(b)| <= distance,
        # so once both sides are further off than the k-th best, nothing closer is left.
        right = bisect.bisect_left(self._lengths, n)
        left = right - 1
        best: list[tuple[int, int, int]] = []  # max-heap of (-distance, -key, position)
        while left >= 0 or right < len(self._entries):
            gap_left = n - self._lengths[left] if left >= 0 else None
            gap_right = self._lengths[right] - n if right < len(self._entries) else None
            if gap_right is None or (gap_left is not None and gap_left <= gap_right):
                position, gap, left = left, gap_left, left - 1
            else:
                position, gap, right = right, gap_right, right + 1
            worst = -best[0][0] if len(best) == k else None
            if worst is not None and gap > worst:
                break
            cutoff = worst if worst is not None else None
            distance = Levenshtein.distance(query, self._strings[position], score_cutoff=cutoff)
            key = self._entries[position].key
            item = (-distance, -key, position)
            if len(best) < k:
                heapq.heappush(best, item)
            elif item > best[0]:
                heapq.heapreplace(best, item)
        ranked = sorted(best, key=lambda t: (-t[0], -t[1]))
        return [PoolMatch(self._entries[p], -d) for d, _, p in ranked]

    def fastest(self, k: int = 1) -> list[PoolEntry]:
        """The `k` entries with the smallest run time (ties: lower key first)."""
        return heapq.nsmallest(k, self._entries, key=lambda e: (e.run_time, e.key))


@dataclass(frozen=True)
class Verified:
    """A pool entry's word for a program: it passed the current tests (the entry's run)."""

    entry: int  # the pool entry that vouches for the program
    run_time: float  # work_seconds of that run
    tests_version: str

    def to_dict(self) -> dict[str, object]:
        """What the candidate's trace shows in place of a run."""
        return {"verdict_from": "solution pool", "pool_entry": self.entry, "tests_version": self.tests_version}


@dataclass(frozen=True)
class PoolOffer:
    """What the pool gives one request: programs to add as candidates, how close the
    nearest known-correct program is (None: the pool is empty), and which programs
    (offered ones and reference solutions) already passed the current tests, so they
    need not run again."""

    programs: tuple[str, ...] = ()
    nearest_distance: int | None = None
    verified: dict[str, Verified] = field(default_factory=dict)
