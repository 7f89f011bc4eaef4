"""problem.yaml: reading it (with errors an instructor can act on) and writing it.

Every error names the problem, what is wrong and the line: an unknown key anywhere is an
error (with the closest known key), a key written twice is an error, and YAML's own
errors are put in plain words. docs/problems.md describes the format.

Tests come in two forms. The YAML form (``args: [1, 2]``, ``expected: 3``) takes YAML's
values: null, booleans, numbers, text, lists and mappings. The Python form
(``call: birthday((5, 15), [])``, ``expected: ()``) reads both fields as Python text
(literals.py), so tuples, sets and frozensets can be written; YAML quotes around the
whole field are removed first, so ``expected: "()"`` is the empty tuple too, and a text
value needs Python quotes inside YAML's: ``expected: "'abc'"``.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import fields
from typing import Any

import yaml

from hint_core.literals import INSTANCE_TYPES, LiteralError, call_text, parse_call, parse_value, value_text
from hint_core.problems import Compare, Forbid, Limits, ProblemError, TestCase

TOP_KEYS = ("title", "description", "template", "kind", "function", "functions", "setup", "tests", "compare",
            "limits", "forbid")
FUNCTION_TEST_KEYS = ("name", "call", "function", "args", "kwargs", "expected", "instance_of")
STDIO_TEST_KEYS = ("name", "stdin", "expected")
_DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*\Z")

# PyYAML's problems, as an instructor would say them (checked in order; first match wins).
_COLON = "a ': ' (colon and space) inside a value; put the whole value in quotes"
_YAML_PROBLEMS = (
    ("mapping values are not allowed", _COLON),
    ("found character '\\t'", "a tab character; YAML indents with spaces only"),
    ("found a tab character", "a tab character; YAML indents with spaces only"),
    ("could not find expected ':'",
     "a line that is neither 'key: value' nor a list item, or a quote left open"),
    ("did not find expected key", "the indentation of this line does not match the lines above it"),
    ("did not find expected '-' indicator",
     "the indentation of this list item does not match the items above"),
    ("expected <block end>", "the indentation of this line does not match the lines above it"),
    ("found unexpected end of stream", "a quote or bracket that is opened but never closed"),
    ("found unknown escape character", "a backslash escape that YAML does not know inside double quotes; "
                                       "use single quotes, or double the backslash"),
    ("did not find expected ',' or ']'", "a list written [like, this] that is not closed, or holds a ': '"),
    ("did not find expected ',' or '}'", "a mapping written {like: this} that is not closed"),
    ("expected ',' or '}', but got ':'", _COLON),
    ("expected ',' or ']', but got ':'", _COLON),
    ("expected ',' or '}'", "brackets that YAML cannot read as its own {mapping}; a Python value with "
                            "nested brackets goes in quotes: expected: \"{frozenset({1}), (1, 2)}\""),
    ("expected ',' or ']'", "brackets that YAML cannot read as its own [list]; a Python value with "
                            "nested brackets goes in quotes: expected: \"[{1: 2}, (3, 4)]\""),
    ("could not determine a constructor for the tag", "an unknown tag (a word starting with '!')"),
    ("found undefined alias", "a '*' that refers to no '&' anchor; put the value in quotes"),
    ("found character '@' that cannot start any token", "a value starting with '@' or '`'; put it in quotes"),
    ("found character '`' that cannot start any token", "a value starting with '@' or '`'; put it in quotes"),
)


class _Loader(yaml.SafeLoader):
    """A safe loader that refuses a key written twice (PyYAML keeps the last one silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen = set()
        for key_node, _value in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
                seen.add(key)
            except TypeError:
                continue  # the base class says why an unhashable key cannot be used
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    None, None, f"the key {key!r} is written twice in this mapping", key_node.start_mark)
        return super().construct_mapping(node, deep=deep)


def _line(node: yaml.Node) -> str:
    return f"line {node.start_mark.line + 1}"


def _unknown(key: str, known: tuple[str, ...], what: str) -> str:
    close = difflib.get_close_matches(key, known, n=1)
    hint = f"; did you mean '{close[0]}'?" if close else f"; known: {', '.join(known)}"
    return f"unknown {what} '{key}'{hint}"


class _Reader:
    """One problem.yaml, walked node by node so that every error can give its line."""

    def __init__(self, text: str, where: str) -> None:
        self.text = text
        self.where = where
        self.loader = _Loader(text)

    def fail(self, message: str, node: yaml.Node | None = None) -> ProblemError:
        at = f", {_line(node)}" if node is not None else ""
        return ProblemError(f"{self.where}: problem.yaml{at}: {message}")

    def value(self, node: yaml.Node) -> Any:
        return self.loader.construct_object(node, deep=True)

    def mapping(self, node: yaml.Node, known: tuple[str, ...], what: str,
                field_name: str) -> dict[str, yaml.Node]:
        """The keys of a mapping node with their value nodes; unknown or repeated keys fail."""
        prefix = f"{field_name}: " if field_name else ""
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(f"{field_name or 'problem.yaml'} must be a mapping ('key: value' lines)", node)
        out: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            key = self.value(key_node)
            if not isinstance(key, str):
                raise self.fail(f"{prefix}the key {key!r} is not a name", key_node)
            if key in out:
                raise self.fail(f"{prefix}the key '{key}' is written twice", key_node)
            if key not in known:
                raise self.fail(f"{prefix}{_unknown(key, known, what)}", key_node)
            out[key] = value_node
        return out

    def text_field(self, fields_: dict[str, yaml.Node], key: str, required: bool) -> str | None:
        if key not in fields_:
            if required:
                raise self.fail(f"missing field '{key}'")
            return None
        value = self.value(fields_[key])
        if not isinstance(value, str):
            raise self.fail(f"field '{key}' must be text, not {type(value).__name__}", fields_[key])
        return value

    def python_text(self, node: yaml.Node, label: str, where: str) -> str:
        """The Python text of a field in a Python-form test: the scalar as written (without
        YAML's quotes), or a flow collection's source exactly (``{1, 2}`` is a set)."""
        if isinstance(node, yaml.ScalarNode):
            return node.value
        if getattr(node, "flow_style", False):
            return self.text[node.start_mark.index:node.end_mark.index]
        raise self.fail(f"{where}: '{label}' must be Python text on one line, e.g. {label}: (1, 2)", node)

    # -- the fields ------------------------------------------------------------------------

    def read(self) -> dict[str, Any]:
        root = self.loader.get_single_node()
        if root is None:
            raise self.fail("problem.yaml is empty")
        top = self.mapping(root, TOP_KEYS, "field", "")
        kind = self.value(top["kind"]) if "kind" in top else "function"
        if kind not in ("function", "stdio"):
            raise self.fail("field 'kind' must be 'function' or 'stdio'", top.get("kind"))
        functions = self.functions(top, kind)
        setup = self.text_field(top, "setup", required=False) or ""
        if setup:
            self.check_setup(setup, top["setup"])
        if "tests" not in top:
            raise self.fail("missing field 'tests'")
        tests_node = top["tests"]
        if not isinstance(tests_node, yaml.SequenceNode):
            raise self.fail("field 'tests' must be a list of tests", tests_node)
        if not tests_node.value:
            raise self.fail("field 'tests' is empty", tests_node)
        return {
            "title": self.text_field(top, "title", required=False) or self.where,
            "description": (self.text_field(top, "description", required=True) or "").strip(),
            "template": self.text_field(top, "template", required=True),
            "kind": kind,
            "function": functions[0] if functions else None,
            "functions": functions,
            "setup": setup,
            "tests": tuple(self.test(node, i, kind, functions) for i, node in enumerate(tests_node.value)),
            "compare": self.settings(Compare, top.get("compare"), "compare"),
            "limits": self.settings(Limits, top.get("limits"), "limits"),
            "forbid": self.forbid(top.get("forbid")),
        }

    def functions(self, top: dict[str, yaml.Node], kind: str) -> tuple[str, ...]:
        if kind == "stdio":
            for key in ("function", "functions"):
                if key in top:
                    raise self.fail(f"field '{key}' is for function problems; this one is kind: stdio",
                                    top[key])
            return ()
        if ("function" in top) == ("functions" in top):
            raise self.fail("field 'function' must name the function under test "
                            "(or 'functions' list several; not both)", top.get("functions"))
        if "function" in top:
            names = [self.value(top["function"])]
            node = top["function"]
        else:
            node = top["functions"]
            names = self.value(node)
            if not isinstance(names, list) or not names:
                raise self.fail("field 'functions' must be a non-empty list of function names", node)
        for name in names:
            if not (isinstance(name, str) and name.isidentifier()):
                raise self.fail(f"field 'function' must name the function under test, not {name!r}", node)
        if len(set(names)) != len(names):
            raise self.fail("field 'functions' names a function twice", node)
        return tuple(names)

    def check_setup(self, setup: str, node: yaml.Node) -> None:
        try:
            compile(setup, "<setup>", "exec", dont_inherit=True)
        except (SyntaxError, ValueError) as exc:
            line = f" (line {exc.lineno} of the setup code)" if getattr(exc, "lineno", None) else ""
            why = getattr(exc, "msg", exc)
            raise self.fail(f"field 'setup' is not valid Python: {why}{line}", node) from None

    def settings(self, cls: type, node: yaml.Node | None, field_name: str) -> Any:
        if node is None:
            return cls()
        known = tuple(f.name for f in fields(cls))
        given = self.mapping(node, known, "field", field_name)
        values = {key: self.value(value) for key, value in given.items()}
        return cls(**values)

    def forbid(self, node: yaml.Node | None) -> Forbid:
        if node is None:
            return Forbid()
        known = tuple(f.name for f in fields(Forbid))
        out = {}
        for key, value_node in self.mapping(node, known, "field", "forbid").items():
            names = self.value(value_node)
            if isinstance(names, str):
                names = [names]
            if not isinstance(names, list) or not all(isinstance(n, str) and _DOTTED.match(n) for n in names):
                raise self.fail(f"forbid.{key} must be a list of names such as sorted or math.prod",
                                value_node)
            if key == "names" and any("." in n for n in names):
                raise self.fail("forbid.names takes plain names (sum, sorted); "
                                "dotted ones go in forbid.calls",
                                value_node)
            out[key] = tuple(names)
        return Forbid(**out)

    def test(self, node: yaml.Node, index: int, kind: str, functions: tuple[str, ...]) -> TestCase:
        where = f"tests[{index}]"
        keys = FUNCTION_TEST_KEYS if kind == "function" else STDIO_TEST_KEYS
        fields_ = self.mapping(node, keys, "key", where)
        if "expected" not in fields_:
            raise self.fail(f"{where}: missing field 'expected'", node)
        name = self.value(fields_["name"]) if "name" in fields_ else None
        name = str(name) if name not in (None, "") else f"test {index + 1}"
        if kind == "stdio":
            stdin = self.value(fields_["stdin"]) if "stdin" in fields_ else ""
            expected = self.value(fields_["expected"])
            if not isinstance(stdin, str) or not isinstance(expected, str):
                raise self.fail(f"{where}: 'stdin' and 'expected' must be text for a stdio problem", node)
            return TestCase(name=name, stdin=stdin, expected=expected)
        if "call" in fields_:
            return self.python_test(fields_, name, where, functions)
        args = self.value(fields_["args"]) if "args" in fields_ else []
        kwargs = self.value(fields_["kwargs"]) if "kwargs" in fields_ else {}
        if not isinstance(args, list) or not isinstance(kwargs, dict):
            raise self.fail(f"{where}: 'args' must be a list and 'kwargs' a mapping", node)
        function = self.value(fields_["function"]) if "function" in fields_ else functions[0]
        if function not in functions:
            raise self.fail(f"{where}: 'function' must be one of the problem's functions "
                            f"({', '.join(functions)}), not {function!r}", fields_["function"])
        expected = self.value(fields_["expected"])
        return TestCase(name=name, args=tuple(args), kwargs=dict(kwargs), expected=expected,
                        function=None if function == functions[0] else function,
                        instance_of=self.instance_of(fields_, where))

    def python_test(self, fields_: dict[str, yaml.Node], name: str, where: str,
                    functions: tuple[str, ...]) -> TestCase:
        for key in ("args", "kwargs", "function"):
            if key in fields_:
                raise self.fail(f"{where}: '{key}' and 'call' cannot be used together "
                                f"(the call names the function and holds the arguments)", fields_[key])
        call_node, expected_node = fields_["call"], fields_["expected"]
        try:
            call = parse_call(self.python_text(call_node, "call", where), functions)
        except LiteralError as exc:
            raise self.fail(f"{where}: 'call' is {exc}", call_node) from None
        text = self.python_text(expected_node, "expected", where)
        try:
            expected = parse_value(text)
        except LiteralError as exc:
            advice = _advice(text) if "plain value" in str(exc) or "not valid Python" in str(exc) else ""
            raise self.fail(f"{where}: 'expected' is {exc}{advice}", expected_node) from None
        return TestCase(name=name, args=call.args, kwargs=call.kwargs, expected=expected,
                        function=None if call.function == functions[0] else call.function,
                        transform=call.transform, instance_of=self.instance_of(fields_, where))

    def instance_of(self, fields_: dict[str, yaml.Node], where: str) -> tuple[str, ...]:
        """``instance_of: int`` or ``instance_of: [int, float]``: isinstance on the returned value."""
        if "instance_of" not in fields_:
            return ()
        names = self.value(fields_["instance_of"])
        names = [names] if isinstance(names, str) else names
        if not isinstance(names, list) or not names or any(n not in INSTANCE_TYPES for n in names):
            raise self.fail(f"{where}: 'instance_of' must name types among {', '.join(INSTANCE_TYPES)}",
                            fields_["instance_of"])
        return tuple(names)


def _advice(text: str) -> str:
    """What an instructor most likely meant by Python text that is not a value."""
    python = {"null": "None", "~": "None", "true": "True", "false": "False", "yes": "True", "no": "False"}
    if text.strip().lower() in python:
        return f" (write {python[text.strip().lower()]}, as in Python)"
    return f" (a text needs Python quotes inside YAML's: expected: \"'{text}'\")"


def explain_yaml_error(exc: yaml.YAMLError, where: str) -> str:
    """A PyYAML error in an instructor's words: file, line, column and what to do."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = str(getattr(exc, "problem", None) or exc)
    at = f", line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    for pattern, words in _YAML_PROBLEMS:
        if pattern in problem:
            return f"{where}: problem.yaml{at}: {words}"
    if "written twice" in problem:
        return f"{where}: problem.yaml{at}: {problem}"
    return f"{where}: problem.yaml{at}: not valid YAML ({problem.strip()})"


def read_spec(text: str, where: str) -> dict[str, Any]:
    """The fields of a Problem (all but id, solutions and assets) from problem.yaml's text."""
    reader = _Reader(text, where)
    try:
        return reader.read()
    except yaml.YAMLError as exc:
        raise ProblemError(explain_yaml_error(exc, where)) from None
    finally:
        reader.loader.dispose()


# -- writing ------------------------------------------------------------------------------


class _Dumper(yaml.SafeDumper):
    pass


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    # Multi-line text as a block (`|`), as an instructor would write it by hand.
    style = "|" if "\n" in value and not any(line != line.rstrip() for line in value.splitlines()) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


class PythonText(str):
    """A field of a Python-form test: written plain where YAML allows (``expected: (1, 2)``,
    ``expected: 1``), since the reader takes the text as written, whatever YAML's type."""


def _python_text(dumper: yaml.SafeDumper, value: PythonText) -> yaml.ScalarNode:
    # Tagged as YAML would resolve the plain text, so the emitter does not quote `1` or `True`.
    tag = dumper.resolve(yaml.ScalarNode, str(value), (True, False))
    return dumper.represent_scalar(tag, str(value), style='"' if value[:1] in "'\"" else None)


_Dumper.add_representer(str, _text)
_Dumper.add_representer(PythonText, _python_text)


def dump_spec(title: str, description: str, template: str, functions: tuple[str, ...], tests: list[TestCase],
              limits: Limits | None = None, compare: Compare | None = None, header: str = "") -> str:
    """problem.yaml for a function problem, tests in the Python form (read back exactly)."""
    data: dict[str, Any] = {
        "title": title, "description": description.rstrip("\n") + "\n", "template": template,
        "kind": "function",
    }
    if len(functions) == 1:
        data["function"] = functions[0]
    else:
        data["functions"] = list(functions)
    if compare is not None and compare != Compare():
        default = Compare()
        data["compare"] = {f.name: getattr(compare, f.name) for f in fields(Compare)
                           if getattr(compare, f.name) != getattr(default, f.name)}
    data["tests"] = []
    for t in tests:
        test: dict[str, Any] = {
            "name": t.name,
            "call": PythonText(
                call_text(t.function or functions[0], t.args, t.kwargs, t.transform, show=value_text)),
            "expected": PythonText(value_text(t.expected)),
        }
        if t.instance_of:
            test["instance_of"] = t.instance_of[0] if len(t.instance_of) == 1 else list(t.instance_of)
        data["tests"].append(test)
    if limits is not None and limits != Limits():
        default = Limits()
        data["limits"] = {f.name: getattr(limits, f.name) for f in fields(Limits)
                          if getattr(limits, f.name) != getattr(default, f.name)}
    # No folding of long lines: a test stays on its own lines, exactly as read back.
    body = yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=1 << 20)
    return header + body
