"""What is checked in a program's text before it runs: is it too long or too deeply
nested to check, and does it use a construct the problem forbids.

The sandbox refuses a program longer than MAX_CHARS before sending it, and one that
Python itself cannot compile for its depth (verdict.py turns that compile error into
``too_complex``); anything else runs normally. ``check`` finds forbidden constructs in the
sandboxed child, before any of the program's code runs (child.py): what it finds is the
first record the child sends, which the worker trusts since the program could not have
run yet (a program that writes such a record first itself, when the check found
nothing, can only make its own verdict worse). Parsing there rather than in the worker
also keeps it away from CPython 3.11's AST constructor, whose recursion bookkeeping is
shared by all threads (see hint_core/parsing.py).

``too_complex`` is for code outside the sandbox that walks a program's syntax tree
recursively (the hint engines): it also refuses trees deeper than MAX_DEPTH.

The forbidden-construct check is meant for honest students, as a course's rule is: it
finds ``sorted(x)``, ``x.sort()``, ``key=sorted``, ``import itertools`` and their
aliases, not a program set on hiding a call (``getattr(__builtins__, "sor" + "ted")``).

Standard library only: the fork server imports this module by file.
"""

from __future__ import annotations

import ast
from typing import Any

MAX_CHARS = 1_000_000
# Deeper syntax trees are too complex for tools that walk them recursively: far beyond
# what people write (the Python parser itself stops at 200 nested brackets).
MAX_DEPTH = 200
TOO_DEEP = ("the program is nested too deeply to check (a very long chain of operators, calls or "
            "attributes, or deeply nested brackets or blocks); split it into smaller steps")
try:
    from hint_core.parsing import parse  # one lock for every parse in the worker (CPython 3.11)
except ImportError:  # the sandboxed child loads this module by file and parses on one thread
    from ast import parse


def too_long(program: str) -> str | None:
    if len(program) > MAX_CHARS:
        return f"the program is too long to check ({len(program):,} characters; the limit is {MAX_CHARS:,})"
    return None


def _depth(tree: ast.AST) -> int:
    """The syntax tree's depth, without recursion (the tree may be deep)."""
    deepest = 0
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > MAX_DEPTH:
            return deepest
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return deepest


def too_complex(program: str) -> str | None:
    """Why `program` is too long or too deeply nested (more than MAX_DEPTH levels) for code
    that walks its tree recursively, or None. Safe to call from several threads."""
    reason = too_long(program)
    if reason is not None:
        return reason
    try:
        tree = parse(program)
    except (RecursionError, MemoryError):
        return TOO_DEEP
    except (SyntaxError, ValueError, SystemError):
        return None  # not too complex: not a program at all, which running it reports
    return TOO_DEEP if _depth(tree) > MAX_DEPTH else None


def check(program: str, forbid: dict[str, Any]) -> dict[str, Any]:
    """The forbidden constructs `program` uses: ``{"forbidden": [...]}`` ("uses sorted(),
    which this exercise forbids (line 3)", first first), ``{"too_complex": why}`` when it
    cannot be parsed for its depth, or ``{}`` (nothing forbidden, or it does not parse:
    compiling it reports why). `forbid` holds the lists ``names``, ``calls``, ``imports``."""
    if not any(forbid.values()):
        return {}
    try:
        tree = parse(program)
    except (RecursionError, MemoryError):
        return {"too_complex": TOO_DEEP}
    except (SyntaxError, ValueError, SystemError):
        return {}
    return {"forbidden": _Finder(forbid).find(tree)}


def _dotted(node: ast.expr) -> str | None:
    """``a.b.c`` for a chain of names and attributes, else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


class _Finder:
    def __init__(self, forbid: dict[str, Any]) -> None:
        self.names = tuple(forbid.get("names", ()))
        self.calls = tuple(forbid.get("calls", ()))
        self.imports = tuple(forbid.get("imports", ()))
        self.aliases: dict[str, str] = {}  # local name -> what it was imported as (math.prod)
        self.found: dict[str, int] = {}  # message without the line -> first line

    def find(self, tree: ast.Module) -> list[str]:
        for node in ast.walk(tree):  # ast.walk keeps a queue: no recursion
            if isinstance(node, ast.Import | ast.ImportFrom):
                self._import(node)
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                self._call(node)
            elif isinstance(node, ast.Name) and node.id in self.names:
                self._report(f"uses {node.id}", node)
            elif isinstance(node, ast.Attribute) and node.attr in self.names:
                self._report(f"uses .{node.attr}", node)
        ordered = sorted(self.found.items(), key=lambda item: item[1])
        return [f"{what}, which this exercise forbids (line {line})" for what, line in ordered]

    def _report(self, what: str, node: ast.AST) -> None:
        line = getattr(node, "lineno", 0)
        if what not in self.found or line < self.found[what]:
            self.found[what] = line

    def _module_forbidden(self, module: str) -> str | None:
        return next((m for m in self.imports if module == m or module.startswith(m + ".")), None)

    def _import(self, node: ast.Import | ast.ImportFrom) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if self._module_forbidden(alias.name):
                    self._report(f"imports {alias.name}", node)
                local = alias.asname or alias.name.split(".")[0]
                self.aliases[local] = alias.name if alias.asname else local
            return
        if node.level or not node.module:
            return  # a relative import: nothing of the standard library
        if self._module_forbidden(node.module):
            self._report(f"imports {node.module}", node)
        for alias in node.names:
            if alias.name in self.names:
                self._report(f"uses {alias.name}", node)
            self.aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"

    def _call(self, node: ast.Call) -> None:
        func = node.func
        dotted = _dotted(func)
        if dotted is not None:
            head, _, rest = dotted.partition(".")
            resolved = self.aliases.get(head, head) + ("." + rest if rest else "")
            last = resolved.rsplit(".", 1)[-1]
            for entry in self.calls:
                plain = "." not in entry
                if resolved == entry or resolved.endswith("." + entry) or (plain and last == entry):
                    shown = f".{func.attr}()" if isinstance(func, ast.Attribute) and "." not in entry \
                        else f"{entry}()"
                    self._report(f"uses {shown}", node)
        elif isinstance(func, ast.Attribute) and func.attr in {e for e in self.calls if "." not in e}:
            self._report(f"uses .{func.attr}()", node)  # a method of something computed: [3, 1].sort()
        self._dynamic_import(node, dotted)

    def _dynamic_import(self, node: ast.Call, dotted: str | None) -> None:
        """``__import__("itertools")`` and ``importlib.import_module("itertools")``."""
        if dotted not in ("__import__", "importlib.import_module", "import_module") or not node.args:
            return
        first = node.args[0]
        if isinstance(first, ast.Constant) and isinstance(first.value, str) \
                and self._module_forbidden(first.value):
            self._report(f"imports {first.value}", node)
