"""What a person reads in a text, as plain characters to match on.

A student reads a hint as it is drawn on the screen, and an LLM reads a prompt much the
same way: `ｒｅｓｕｌｔ` (full-width), `rеsult` (a Cyrillic `е`), `res\u200bult` (a
zero-width space) and `&lt;` (an HTML entity the page may render) all read as the plain
characters they look like. Matching the raw code points lets such a text through both
the solution-leak guard and the prompt-tag defusing; matching this reading form does not.

The reading form of a text: HTML entities decoded, Unicode NFKC (full-width, mathematical
and ligature forms become plain letters), invisible characters removed (format controls
such as zero-width spaces and bidi overrides, combining marks, control characters other
than line breaks and tabs, Hangul fillers), and Cyrillic and Greek letters drawn like Latin
ones folded to those. Text in other scripts is left as it is.
"""

from __future__ import annotations

import html
import re
import unicodedata

# Cyrillic and Greek letters (and a few Latin variants NFKC keeps) that are drawn like
# ASCII letters, after Unicode's confusables list (UTS #39). Letters that only resemble
# one in some fonts (Greek kappa, Cyrillic ve) are left out: folding them would make
# ordinary Greek or Russian text read as code.
_LOOK_ALIKES = {
    # Cyrillic lower case
    "а": "a", "е": "e", "һ": "h", "і": "i", "ј": "j", "ӏ": "l", "о": "o", "р": "p",
    "ԛ": "q", "ѕ": "s", "с": "c", "ԁ": "d", "у": "y", "ү": "y", "х": "x", "ԝ": "w",
    # Cyrillic upper case
    "А": "A", "В": "B", "Е": "E", "Н": "H", "І": "I", "Ј": "J", "К": "K", "М": "M", "О": "O",
    "Р": "P", "Ԛ": "Q", "Ѕ": "S", "С": "C", "Т": "T", "У": "Y", "Ү": "Y", "Х": "X", "Ԝ": "W",
    "Ӏ": "I", "Ԁ": "D", "Ԍ": "G", "Ԋ": "H",
    # Greek lower case
    "α": "a", "ο": "o", "ρ": "p", "ν": "v", "ι": "i", "υ": "u", "χ": "x", "ϲ": "c", "ϳ": "j",
    "γ": "y", "ɑ": "a",
    # Greek upper case
    "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N",
    "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X", "Ϲ": "C", "Ϳ": "J",
    # Latin variants that NFKC leaves alone
    "ı": "i", "ȷ": "j", "ɩ": "i", "ǀ": "l", "ɡ": "g",
}

# Letters that are drawn as blank space although Unicode calls them letters.
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")

_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});?")
# Escapes an LLM may decode when it reads a prompt: %3C, \x3c, \u003c (and > and /).
_ESCAPE = re.compile(r"%(3[CcEe]|2[Ff])|\\x(3[CcEe]|2[Ff])|\\u00(3[CcEe]|2[Ff])")
# Three or more single letters or digits in a row, each followed by blanks: "r e s u l t".
_SPACED_OUT = re.compile(r"(?<!\w)(?:\w[^\S\n]+){2,}\w(?!\w)")


def _invisible(ch: str) -> bool:
    category = unicodedata.category(ch)
    if category == "Cc":
        return ch not in "\n\r\t"
    return category in ("Cf", "Mn", "Me") or ch in _BLANK_LETTERS


def _decoded(text: str, i: int, escapes: bool) -> tuple[str, int]:
    """The piece of text read at `i` (an entity or escape stands for its character) and where it ends."""
    ch = text[i]
    if ch == "&":
        match = _ENTITY.match(text, i)
        if match:
            decoded = html.unescape(match.group(0))
            if decoded != match.group(0):
                return decoded, match.end()
    elif escapes and ch in "%\\":
        match = _ESCAPE.match(text, i)
        if match:
            code = next(group for group in match.groups() if group)
            return chr(int(code, 16)), match.end()
    return ch, i + 1


def reading_map(text: str, escapes: bool = False) -> tuple[str, list[int], list[int]]:
    """The reading form of `text` and, for each of its characters, the span [start, end)
    of `text` it was read from. `escapes` also decodes %3C, \\x3c and \\u003c (and > /).

    Linear in the length of the text.
    """
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    i = 0
    while i < len(text):
        piece, end = _decoded(text, i, escapes)
        for ch in unicodedata.normalize("NFKC", piece):
            if _invisible(ch):
                continue
            out.append(_LOOK_ALIKES.get(ch, ch))
            starts.append(i)
            ends.append(end)
        i = end
    return "".join(out), starts, ends


def reading_form(text: str) -> str:
    """What a reader takes `text` to say, for matching against code: the reading form, with
    spaced-out letters joined ("r e s u l t" reads "result") and runs of blanks made one space."""
    form = reading_map(text)[0]
    form = _SPACED_OUT.sub(lambda m: re.sub(r"\s+", "", m.group(0)), form)
    return re.sub(r"[^\S\n]+", " ", form)
