"""Reading what a model answered: the JSON object, the program or the hint in it.

Models do not always write what they were asked for: a JSON object inside code fences or
with prose around it, raw newlines inside JSON strings, a program itself fenced inside the
JSON string, or (local models often ignore the JSON instruction) a bare ```python block.
"""

from __future__ import annotations

import json
import re
from typing import Any

from hint_core.markdown import fences


class ParseError(ValueError):
    pass


# strict=False: models often put raw newlines inside JSON strings (a program, typically).
_DECODER = json.JSONDecoder(strict=False)
_PYTHON = ("python", "py", "python3")


def _fenced(text: str, languages: tuple[str, ...] | None = None) -> list[str]:
    """Bodies of the closed fences of `text` (in `languages`, when given)."""
    return [f.body for f in fences(text) if f.closed and (languages is None or f.language in languages)]


def extract_json_object(text: str) -> dict[str, Any]:
    """The first JSON object in `text`, tolerating code fences and prose around it."""
    if not text or not text.strip():
        raise ParseError("empty answer")
    # Fenced blocks first: prose before a fence may hold braces of its own.
    for chunk in [*_fenced(text), text]:
        for match in re.finditer(r"\{", chunk):
            try:
                value, _ = _DECODER.raw_decode(chunk, match.start())
            except ValueError:
                continue
            if isinstance(value, dict):
                return value
    raise ParseError("no JSON object in the answer")


def parse_program(text: str, key: str) -> str:
    """The program under `key` in an answer, or ParseError saying what is wrong.

    An answer that is only a fenced Python block is accepted too: the tests verify every
    candidate anyway.
    """
    try:
        data = extract_json_object(text)
    except ParseError:
        python = _fenced(text or "", _PYTHON)
        if len(python) == 1 and python[0].strip():
            return python[0].strip("\n") + "\n"
        raise
    if key not in data:
        keys = ", ".join(repr(k) for k in list(data)[:5]) or "none"
        raise ParseError(f"answer has no '{key}' key (keys: {keys})")
    program = data[key]
    if not isinstance(program, str) or not program.strip():
        raise ParseError(f"'{key}' is not a non-empty string")
    fenced = _fenced(program)
    program = (fenced[0] if fenced else program).strip("\n")
    if not program.strip():
        raise ParseError(f"'{key}' holds no code")
    return program + "\n"


def parse_hint(text: str) -> tuple[str, str]:
    """(explanation, hint) from an answer, or ParseError."""
    data = extract_json_object(text)
    explanation, hint = data.get("explanation"), data.get("hint")
    if not isinstance(hint, str) or not hint.strip():
        raise ParseError("answer has no non-empty 'hint' string")
    if explanation is not None and not isinstance(explanation, str):
        raise ParseError("'explanation' is not a string")
    return (explanation or "").strip(), hint.strip()
