"""Code inside LLM text, as Markdown writes it: fenced blocks and inline spans.

The one definition of a code fence, shared by the answer parser (which wants the JSON
or program inside a fence) and the solution-leak guard (which wants every piece of code
a hint or an explanation carries, a fence left open by a cut-off answer included).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# ```lang, optional blanks and line break, the body, and the closing ``` or the end of the
# text (an answer cut off at max_tokens leaves its fence open).
FENCE = re.compile(r"```[ \t]*([\w+-]*)[ \t]*\n?(.*?)(```|\Z)", re.DOTALL)
# `code` on one line.
SPAN = re.compile(r"`([^`\n]+)`")


@dataclass(frozen=True)
class Fence:
    language: str  # as written after the backticks, lower case ("" when none)
    body: str
    closed: bool


def fences(text: str) -> list[Fence]:
    """Every fenced block of `text`, in order."""
    return [Fence(lang.lower(), body, bool(close)) for lang, body, close in FENCE.findall(text)]


def without_fences(text: str, replacement: str = " ") -> str:
    """`text` with each fenced block replaced by `replacement`."""
    return FENCE.sub(replacement, text)
