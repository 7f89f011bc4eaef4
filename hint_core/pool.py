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
import functools
import hashlib
import heapq
import re
import threading
import tokenize
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from rapidfuzz.distance import Levenshtein

from hint_core.parsing import parse as parse_program  # one thread at a time (CPython 3.11)
from hint_core.sandbox import RunResult
from hint_core.selection import CACHED_PROGRAM_CHARS, code_tokens, normalized_tokens

# What ast.parse raises on text that is not Python, or too deep or long to build a tree
# for (a chain of 100,000 characters: RecursionError, or MemoryError from the parser).
_UNPARSABLE = (SyntaxError, ValueError, RecursionError, MemoryError)


def _preorder(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node, parents before children, children in field order: the order of a
    recursive NodeVisitor, without its recursion (a deep tree would exhaust the stack)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(list(ast.iter_child_nodes(node))))


def drop_docstrings(tree: ast.AST) -> None:
    """Remove docstrings in place: like comments, they say nothing about what the code does."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            body = node.body
            if body and _is_string_statement(body[0]):
                node.body = body[1:] or [ast.Pass()]


def bound_names(tree: ast.AST) -> set[str]:
    """The variable names a program binds (parameters, assignment, loop and `as` targets)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            names.add(node.id)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
    return names


def _rename(tree: ast.AST, bound: set[str]) -> None:
    """Rename bound variables to v0, v1, ... in order of appearance, in place.

    Function and class names, attributes, imported modules and builtins keep their
    names: they are part of what the program does, not of how the student named things.
    """
    mapping: dict[str, str] = {}

    def new(name: str) -> str:
        return mapping.setdefault(name, f"v{len(mapping)}") if name in bound else name

    for node in _preorder(tree):
        if isinstance(node, ast.Name):
            node.id = new(node.id)
        elif isinstance(node, ast.arg):
            node.arg = new(node.arg)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            node.name = new(node.name)
        elif isinstance(node, ast.Global | ast.Nonlocal):
            node.names = [new(n) for n in node.names]


def canonical_tree(program: str) -> ast.Module | None:
    """The program's syntax tree with docstrings dropped and variables renamed, or None
    when it does not parse (or is too deep to). Line numbers still point into the original
    program. One parse and two walks without recursion: linear in the program's size."""
    try:
        tree = parse_program(program)
    except _UNPARSABLE:
        return None
    drop_docstrings(tree)
    _rename(tree, bound_names(tree))
    return tree


def canonical_source(program: str) -> str | None:
    """The normal form as source text (None when the program does not parse, or its tree is
    too deep for ast.unparse, which recurses)."""
    tree = canonical_tree(program)
    if tree is None:
        return None
    try:
        return ast.unparse(tree)
    except RecursionError:
        return None


def canonical_form(program: str) -> tuple[str, list[str]]:
    """The dedup key and the canonical tokens of a program, from one parse."""
    if len(program) <= CACHED_PROGRAM_CHARS:
        key, tokens = _cached_form(program)
        return key, list(tokens)
    return _canonical_form(program)


@functools.lru_cache(maxsize=1024)
def _cached_form(program: str) -> tuple[str, tuple[str, ...]]:
    key, tokens = _canonical_form(program)
    return key, tuple(tokens)


def _canonical_form(program: str) -> tuple[str, list[str]]:
    # A program that does not parse, or is too deep to, falls back to its tokens with every
    # name renamed: still a key and a distance, never an exception. Time: linear in the
    # program's length (one parse, iterative walks; tokenizing is linear too).
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

    def __init__(self, entries: Iterable[PoolEntry], codes: _Codes | None = None) -> None:
        self._codes = codes or _Codes()
        encoded = sorted(
            ((self._codes.encode(e.tokens), e) for e in entries), key=lambda p: (len(p[0]), p[1].key)
        )
        self._strings = [s for s, _ in encoded]
        self._entries = [e for _, e in encoded]
        self._lengths = [len(s) for s in self._strings]

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def entries(self) -> tuple[PoolEntry, ...]:
        return tuple(self._entries)

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
        return {
            "verdict_from": "solution pool", "pool_entry": self.entry, "tests_version": self.tests_version
        }


@dataclass(frozen=True)
class PoolOffer:
    """What the pool gives one request: programs to add as candidates, how close the
    nearest known-correct program is (None: the pool is empty), and which programs
    (offered ones and reference solutions) already passed the current tests, so they
    need not run again."""

    programs: tuple[str, ...] = ()
    nearest_distance: int | None = None
    verified: dict[str, Verified] = field(default_factory=dict)


# --- what another student may see of a program -----------------------------------------------


def _is_string_statement(stmt: ast.AST, kinds: tuple[type, ...] = (str,)) -> bool:
    """A statement that is only a string (a docstring, or a string used as a comment)."""
    return (
        isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)
        and isinstance(stmt.value.value, kinds)
    )


# Code that reads docstrings: removing them would change what the program does.
_READS_DOCSTRINGS = re.compile(r"__doc__|\bgetdoc\b|\bdoctest\b|\bpydoc\b|\bhelp\s*\(")
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")  # lines as Python's tokenizer splits them
_STATEMENT_LISTS = ("body", "orelse", "finalbody")


def _lines(program: str) -> list[str]:
    return _LINE.findall(program)


def _removable(tree: ast.Module, keep_docstrings: bool) -> list[tuple[ast.stmt, list[ast.stmt]]]:
    """The bare string statements of the program, each with the statement list holding it.
    With `keep_docstrings`, docstrings (the first statement of a module, class or function)
    stay."""
    found = []
    for node in ast.walk(tree):
        for name in _STATEMENT_LISTS:
            body = getattr(node, name, None)
            if not isinstance(body, list):
                continue
            has_docstring = name == "body" and isinstance(
                node, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
            )
            for i, stmt in enumerate(body):
                kept_docstring = keep_docstrings and has_docstring and i == 0
                if _is_string_statement(stmt, (str, bytes)) and not kept_docstring:
                    found.append((stmt, body))
    return found


def _char_col(line: str, byte_col: int) -> int:
    """ast counts columns in UTF-8 bytes; strings are indexed by characters."""
    return len(line.encode("utf-8")[:byte_col].decode("utf-8", errors="ignore"))


def _cut_statements(program: str, removable: list[tuple[ast.stmt, list[ast.stmt]]]) -> str:
    """The program without the given statements, layout kept: a statement alone on its lines
    loses them; one that shares a line (`"doc"; x = 1`) becomes `pass`, as does the first
    statement of a block that would be left empty."""
    lines: list[str | None] = list(_lines(program))
    removed = {id(stmt) for stmt, _ in removable}
    emptied = {id(body[0]) for _, body in removable if all(id(s) in removed for s in body)}
    for stmt, _ in sorted(removable, key=lambda pair: (pair[0].lineno, pair[0].col_offset), reverse=True):
        first, last = stmt.lineno - 1, (stmt.end_lineno or stmt.lineno) - 1
        head = lines[first] or ""
        tail = lines[last] or ""
        start = _char_col(head, stmt.col_offset)
        end = _char_col(tail, stmt.end_col_offset or 0)
        rest = tail[end:]
        alone = not head[:start].strip() and (not rest.strip() or rest.lstrip().startswith("#"))
        if alone and id(stmt) not in emptied:
            for row in range(first, last + 1):
                lines[row] = None
            continue
        lines[first] = head[:start] + "pass" + rest
        for row in range(first + 1, last + 1):
            lines[row] = None
    return "".join(line for line in lines if line is not None)


def _without_comment_tokens(program: str) -> str:
    """The program without the comments tokenize finds (it knows a '#' inside a string or an
    f-string); a line that held only a comment goes. Stops quietly where tokenize fails."""
    lines = _lines(program)
    cuts: dict[int, int] = {}
    try:
        for tok in tokenize.generate_tokens(functools.partial(next, iter(lines), "")):
            if tok.type == tokenize.COMMENT:
                cuts[tok.start[0] - 1] = tok.start[1]
    except (tokenize.TokenError, SyntaxError):
        pass
    out = []
    for row, line in enumerate(lines):
        if row in cuts:
            code = line[: cuts[row]].rstrip(" \t\f")
            if not code.strip():
                continue
            line = code + line[len(line.rstrip("\r\n")) :]
        out.append(line)
    return "".join(out)


def _shape(tree: ast.AST) -> list[tuple[object, ...]]:
    """What a tree does, less its `pass` and bare string statements: node types, their plain
    fields and child counts, breadth first (no recursion, so deep trees compare too)."""
    nodes = list(ast.walk(tree))
    for node in nodes:
        for name in _STATEMENT_LISTS:
            body = getattr(node, name, None)
            if isinstance(body, list):
                kept = [
                    s for s in body if not (isinstance(s, ast.Pass) or _is_string_statement(s, (str, bytes)))
                ]
                setattr(node, name, kept)
    shape = []
    for node in ast.walk(tree):
        plain = tuple(
            (name, value) for name, value in ast.iter_fields(node)
            if not isinstance(value, ast.AST | list) or (isinstance(value, list) and value
                                                         and not isinstance(value[0], ast.AST))
        )
        shape.append((type(node).__name__, plain, len(list(ast.iter_child_nodes(node)))))
    return shape


def strip_comments(program: str) -> str:
    """The program without comments, docstrings and strings used as comments, doing what it did.

    For a program that parses (every program that passed the tests does): comments go,
    and so does every statement that is only a string (a docstring, or a string used as a
    block comment); a block left empty gets `pass`. The layout is otherwise kept (tabs,
    CRLF line ends, blank lines). Docstrings stay when the code reads them (`__doc__`,
    `inspect.getdoc`, `doctest`, `pydoc`, `help(`). The result is checked to parse to the
    same tree less those statements; when the layout-keeping edit fails that check (a
    string in parentheses, a line continuation), the program is rewritten from its tree
    with `ast.unparse` (same behaviour, layout normalized).

    For a program that does not parse (or is too deep for Python's parser): only the
    comments the tokenizer finds before it stops are removed, and docstrings stay, since
    without a tree they cannot be told from other strings. Never raises.
    """
    try:
        tree = parse_program(program)
    except _UNPARSABLE:
        return _without_comment_tokens(program)
    removable = _removable(tree, keep_docstrings=bool(_READS_DOCSTRINGS.search(program)))
    stripped = _without_comment_tokens(_cut_statements(program, removable))
    try:
        if _shape(parse_program(stripped)) == _shape(parse_program(program)):
            return stripped
    except _UNPARSABLE:
        pass
    return _unparsed_without(tree, removable) or stripped


def _unparsed_without(tree: ast.Module, removable: list[tuple[ast.stmt, list[ast.stmt]]]) -> str | None:
    """The program rewritten from its tree without the given statements (None when the tree
    is too deep for ast.unparse)."""
    removed = {id(stmt) for stmt, _ in removable}
    for node in list(ast.walk(tree)):
        for name in _STATEMENT_LISTS:
            body = getattr(node, name, None)
            if isinstance(body, list) and any(id(s) in removed for s in body):
                setattr(node, name, [s for s in body if id(s) not in removed] or [ast.Pass()])
    try:
        return ast.unparse(tree) + "\n"
    except RecursionError:
        return None
