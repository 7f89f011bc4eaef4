"""Parsing what models really answer: fences, prose around the JSON, raw newlines, wrong keys."""

from __future__ import annotations

import json

import pytest

from hint_core.llm import ParseError, extract_json_object, parse_hint, parse_program

PROGRAM = "def f(n):\n    return n + 1\n"


@pytest.mark.parametrize(
    "answer",
    [
        json.dumps({"fixed_program": PROGRAM}),
        "```json\n" + json.dumps({"fixed_program": PROGRAM}) + "\n```",
        "Sure! Here is the fix {as asked}:\n```\n"
        + json.dumps({"fixed_program": PROGRAM})
        + "\n```\nHope it helps.",
        "The answer is " + json.dumps({"fixed_program": PROGRAM}) + " -- done.",
        # A raw newline inside the JSON string: invalid JSON, but what models often write.
        '{"fixed_program": "def f(n):\n    return n + 1\n"}',
        # The program itself wrapped in a fence inside the JSON string.
        json.dumps({"fixed_program": "```python\n" + PROGRAM + "```"}),
        # No JSON at all, only a Python block: local models often ignore the instruction.
        "Here you go:\n```python\n" + PROGRAM + "```",
    ],
)
def test_programs_are_recovered_from_what_models_write(answer):
    assert parse_program(answer, "fixed_program") == PROGRAM


@pytest.mark.parametrize(
    "answer, reason",
    [
        ("", "empty answer"),
        ("   \n", "empty answer"),
        ("I cannot help with that.", "no JSON object"),
        ('{"program": "x = 1"}', "no 'fixed_program' key (keys: 'program')"),
        ('{"fixed_program": 42}', "not a non-empty string"),
        ('{"fixed_program": ["x = 1"]}', "not a non-empty string"),
        ('{"fixed_program": "   "}', "not a non-empty string"),
        ('{"fixed_program": "```python\\n```"}', "holds no code"),
        ('{"fixed_program": "def f(n):\\n    return', "no JSON object"),  # cut off at max_tokens
        ("```python\nx = 1\n```\n```python\ny = 2\n```", "no JSON object"),  # two blocks: which one?
    ],
)
def test_unusable_program_answers_say_why(answer, reason):
    with pytest.raises(ParseError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        parse_program(answer, "fixed_program")


def test_the_first_json_object_wins_and_arrays_are_skipped():
    assert extract_json_object('[1, 2] then {"a": {"b": 1}} and {"c": 2}') == {"a": {"b": 1}}


def test_a_hint_answer_is_validated():
    text = 'Answer:\n```json\n{"explanation": " off by one ", "hint": " Where does it start? "}\n```'
    assert parse_hint(text) == ("off by one", "Where does it start?")
    assert parse_hint('{"hint": "Why?"}') == ("", "Why?")


@pytest.mark.parametrize(
    "answer, reason",
    [
        ('{"explanation": "x"}', "no non-empty 'hint'"),
        ('{"explanation": "x", "hint": ""}', "no non-empty 'hint'"),
        ('{"explanation": "x", "hint": ["a"]}', "no non-empty 'hint'"),
        ('{"explanation": 3, "hint": "Why?"}', "'explanation' is not a string"),
        ("", "empty answer"),
    ],
)
def test_invalid_hint_answers_say_why(answer, reason):
    with pytest.raises(ParseError, match=reason):
        parse_hint(answer)
