"""Bounded text, diffs, the blamed line and comment stripping, directly."""

from __future__ import annotations

from hint_api.console.text import MAX_LINE_CHARS, MAX_LINES, diff, failing_line, program_view, strip_comments


def test_a_diff_shows_removed_and_added_lines_with_their_numbers():
    d = diff("a = 0\nb = 1\nc = 2\n", "a = 0\nb = 5\nc = 2\nd = 3\n")
    kinds = [(r.kind, r.old, r.new, r.text) for r in d.rows]
    assert ("del", 2, None, "b = 1") in kinds and ("add", None, 2, "b = 5") in kinds
    assert ("add", None, 4, "d = 3") in kinds and (d.added, d.removed) == (2, 1)
    assert diff("same\n", "same\n").rows == []


def test_huge_programs_are_not_diffed_on_the_page():
    huge = "x = 1\n" * 5000
    assert diff(huge, "x = 2\n").too_large


def test_program_views_are_bounded():
    view = program_view("y = 1\n" * 1000 + "z = '" + "A" * 5000 + "'\n", marked=3)
    assert len(view.lines) == MAX_LINES and view.hidden_lines == 1001 - MAX_LINES
    assert [line.number for line in view.lines if line.marked] == [3]
    one_line = program_view("s = '" + "B" * 100_000 + "'")
    assert (
        len(one_line.lines[0].text) == MAX_LINE_CHARS and one_line.lines[0].hidden == 100_006 - MAX_LINE_CHARS
    )


def test_the_blamed_line_comes_from_the_run():
    wrong_then_exception = {
        "tests": [
            {"status": "passed", "line": 9},
            {"status": "wrong_answer", "line": None},
            {"status": "exception", "line": 4},
        ]
    }
    assert failing_line(wrong_then_exception) == 4
    assert failing_line({"tests": [], "error": "SyntaxError: invalid syntax (line 7)"}) == 7
    assert failing_line({"tests": [{"status": "wrong_answer"}]}) is None
    assert failing_line(None) is None and failing_line({"tests": "garbage"}) is None


def test_strip_comments_keeps_the_code_and_hashes_inside_strings():
    program = "# author: Jane\nx = '#not a comment'  # but this is\n\ndef f():  # here\n    return x\n"
    assert strip_comments(program) == "x = '#not a comment'\n\ndef f():\n    return x\n"


def test_strip_comments_works_on_programs_that_do_not_parse():
    program = "def f(:\n    # Jane Doe\n    return 'a#b' # secret\n    s = \"unterminated\n"
    stripped = strip_comments(program)
    assert "Jane" not in stripped and "secret" not in stripped and "'a#b'" in stripped
