"""What the worker checks in a program before it runs: is it too complex to check at all,
and does it use a construct the problem forbids.

Both read the program's syntax tree (parent side; nothing of the program runs here). The
forbidden-construct check is meant for honest students, as a course's rule is: it finds
``sorted(x)``, ``x.sort()``, ``key=sorted``, ``import itertools`` and their aliases, not
a program set on hiding a call (``getattr(__builtins__, "sor" + "ted")``).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from hint_core.problems import Forbid

# A syntax tree deeper than this is refused as too complex: far beyond what people write
# (the Python parser itself stops at 200 nested brackets), and well within what the tools
# that walk trees recursively here (the hint engines) can take.
MAX_DEPTH = 200
MAX_CHARS = 1_000_000
TOO_DEEP = (f"the program is nested too deeply to check (more than {MAX_DEPTH} levels: a very long chain "
            "of operators, calls or attributes, or deeply nested brackets or blocks); "
            "split it into smaller steps")


@dataclass(frozen=True)
class Inspection:
    too_complex: str | None = None  # why the program is not run at all
    forbidden: tuple[str, ...] = ()  # "uses sorted(), which this exercise forbids (line 3)", first first


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
    """Why `program` is too long or too deeply nested to check, or None. A program that
    does not parse for another reason is not too complex: running it reports its error."""
    return _parse(program)[1]


def _parse(program: str) -> tuple[ast.Module | None, str | None]:
    if len(program) > MAX_CHARS:
        return None, (f"the program is too long to check ({len(program):,} characters; "
                      f"the limit is {MAX_CHARS:,})")
    try:
        tree = ast.parse(program)
    except (SyntaxError, ValueError):
        return None, None
    except (RecursionError, MemoryError):
        return None, TOO_DEEP
    depth = _depth(tree)
    if depth > MAX_DEPTH:
        return None, TOO_DEEP
    return tree, None


def inspect(program: str, forbid: Forbid) -> Inspection:
    tree, problem = _parse(program)
    if problem is not None:
        return Inspection(too_complex=problem)
    if tree is None or not forbid:
        return Inspection()
    return Inspection(forbidden=tuple(_Finder(forbid).find(tree)))


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
    def __init__(self, forbid: Forbid) -> None:
        self.forbid = forbid
        self.aliases: dict[str, str] = {}  # local name -> what it was imported as (math.prod)
        self.found: dict[str, int] = {}  # message without the line -> first line

    def find(self, tree: ast.Module) -> list[str]:
        for node in ast.walk(tree):  # ast.walk keeps a queue: no recursion
            if isinstance(node, ast.Import | ast.ImportFrom):
                self._import(node)
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                self._call(node)
            elif isinstance(node, ast.Name) and node.id in self.forbid.names:
                self._report(f"uses {node.id}", node)
            elif isinstance(node, ast.Attribute) and node.attr in self.forbid.names:
                self._report(f"uses .{node.attr}", node)
        ordered = sorted(self.found.items(), key=lambda item: item[1])
        return [f"{what}, which this exercise forbids (line {line})" for what, line in ordered]

    def _report(self, what: str, node: ast.AST) -> None:
        line = getattr(node, "lineno", 0)
        if what not in self.found or line < self.found[what]:
            self.found[what] = line

    def _module_forbidden(self, module: str) -> str | None:
        return next((m for m in self.forbid.imports if module == m or module.startswith(m + ".")), None)

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
            if alias.name in self.forbid.names:
                self._report(f"uses {alias.name}", node)
            self.aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"

    def _call(self, node: ast.Call) -> None:
        func = node.func
        dotted = _dotted(func)
        if dotted is not None:
            head, _, rest = dotted.partition(".")
            resolved = self.aliases.get(head, head) + ("." + rest if rest else "")
            last = resolved.rsplit(".", 1)[-1]
            for entry in self.forbid.calls:
                plain = "." not in entry
                if resolved == entry or resolved.endswith("." + entry) or (plain and last == entry):
                    shown = f".{func.attr}()" if isinstance(func, ast.Attribute) and "." not in entry \
                        else f"{entry}()"
                    self._report(f"uses {shown}", node)
        elif isinstance(func, ast.Attribute) and func.attr in {e for e in self.forbid.calls if "." not in e}:
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
